// The native engine locks what its thread touches, best effort: under a RLIMIT_MEMLOCK below that
// it runs unlocked. `xlane agent` says so at start (what the engine locks, what the limit allows,
// where to raise it) as it does for SCHED_FIFO and pinning; with room enough it locks and is quiet.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memlockLimit, memoryNotLockedWarning, NATIVE_ENGINE_LOCKED_BYTES } from '../../src/agent/memlock.js';
import type { RunningController } from '../../src/controller/server.js';
import { REPO, startTestController, testbed } from '../controller/helpers.js';
import { Service } from '../deploy/service-process.js';
import { freeUdpPort } from '../engine/helpers.js';
import { skipReason } from '../engine/native-helpers.js';

const LOW = 64 * 1024;
const root = process.getuid?.() === 0;

function have(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** This process's hard RLIMIT_MEMLOCK: a child can be given at most that (raising it takes
 * CAP_SYS_RESOURCE, which a container's root may not have). */
function hardMemlock(): number {
  const hard = /^Max locked memory\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  return hard === 'unlimited' || hard === undefined ? Number.POSITIVE_INFINITY : Number(hard);
}

/** The unit's LimitMEMLOCK=16M, or as much of it as this machine allows. */
const ROOMY = Math.min(16 * 1024 * 1024, hardMemlock());

describe('the warning itself', () => {
  it('reads the soft limit from /proc/self/limits', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max locked memory         65536                16777216             bytes     ',
    ].join('\n');
    expect(memlockLimit(limits)).toBe(65536);
    expect(memlockLimit(limits.replace('65536 ', 'unlimited '))).toBe('unlimited');
    expect(memlockLimit('Max open files 1024 4096 files')).toBeUndefined();
    expect(typeof memlockLimit() === 'number' || memlockLimit() === 'unlimited').toBe(true);
  });

  it('gives what the engine locks, what the limit allows and where to raise it', () => {
    const w = memoryNotLockedWarning('Cannot allocate memory', LOW);
    expect(w.fields).toEqual({
      error: 'Cannot allocate memory',
      needBytes: NATIVE_ENGINE_LOCKED_BYTES,
      memlockLimitBytes: LOW,
    });
    expect(w.msg).toMatch(/^engine memory not locked \(mlock: Cannot allocate memory\)/);
    expect(w.msg).toContain('about 5.3 MiB');
    expect(w.msg).toContain('RLIMIT_MEMLOCK allows 64 KiB');
    expect(w.msg).toContain('LimitMEMLOCK=');
    expect(w.msg).toContain('docs/deploy.md');
    expect(memoryNotLockedWarning('x', undefined).fields).not.toHaveProperty('memlockLimitBytes');
  });
});

// prlimit and setpriv are util-linux, which CI installs; the addon is built there too.
const canRun =
  skipReason === '' && have('prlimit', ['--version']) && (!root || have('setpriv', ['--version']));

describe.skipIf(!canRun)(`xlane agent --engine native under a memlock limit ${skipReason}`, () => {
  let controller: RunningController;
  let dir: string;
  const agents: Service[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xlane-mlock-'));
    // A port of its own: the express port is bound by the engine, and other files run engines.
    controller = await startTestController({ topology: { ...testbed(), expressPort: await freeUdpPort() } });
  });

  afterEach(() => {
    for (const a of agents.splice(0)) a.kill();
  });

  afterAll(async () => {
    await controller?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The agent from the sources with RLIMIT_MEMLOCK at `limit` (soft and hard). Root is exempt
   * from that limit through CAP_IPC_LOCK: it is taken out of the bounding set, as a unit's
   * non-root user has none. prlimit and setpriv exec, so the PID is the agent's. */
  function agent(limit: number, name: string): Service {
    const argv = [
      'prlimit',
      `--memlock=${limit}:${limit}`,
      '--',
      ...(root ? ['setpriv', '--bounding-set=-ipc_lock', '--'] : []),
      process.execPath,
      '--import',
      'tsx',
      join(REPO, 'src/cli/main.ts'),
      'agent',
      '--host',
      'h1',
      '--controller',
      controller.url,
      '--engine',
      'native',
      '--receive',
      'blocking',
      '--iface',
      'none',
      '--peers',
      'h1=127.0.0.1,h2=127.0.0.1,h3=127.0.0.1',
      '--socket',
      join(dir, name, 'agent.sock'),
    ];
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
    const s = new Service(argv, env, REPO);
    agents.push(s);
    return s;
  }

  it('warns with the figures when the limit is below what the engine locks, and runs unlocked', async () => {
    const a = agent(LOW, 'low');
    await a.waitFor('agent running');
    const warning = a.lines.find((l) => /^engine memory not locked/.test(l.msg ?? ''));
    expect(warning, a.text()).toMatchObject({
      level: 40,
      needBytes: NATIVE_ENGINE_LOCKED_BYTES,
      memlockLimitBytes: LOW,
      error: expect.any(String),
    });
    expect(warning?.msg).toMatch(/LimitMEMLOCK=/);
    expect(Number.parseInt(a.status('VmLck'), 10)).toBe(0);
    expect(await a.stop()).toBe(0);
  }, 60_000);

  it.skipIf(ROOMY < 1.2 * NATIVE_ENGINE_LOCKED_BYTES)(
    'is quiet with room enough, and locks what the warning says it needs',
    async () => {
      const a = agent(ROOMY, 'roomy');
      await a.waitFor('agent running');
      expect(a.has(/^engine memory not locked/), a.text()).toBe(false);
      const locked = Number.parseInt(a.status('VmLck'), 10) * 1024;
      // The figure in the warning is a constant (the addon does not report it): kept honest here.
      expect(Math.abs(locked - NATIVE_ENGINE_LOCKED_BYTES)).toBeLessThan(0.1 * NATIVE_ENGINE_LOCKED_BYTES);
      expect(await a.stop()).toBe(0);
    },
    60_000,
  );
});
