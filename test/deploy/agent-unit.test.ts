// xlane-agent.service's ExecStart with exactly the unit's privileges (its ambient and bounding
// capabilities, no_new_privs and LimitMEMLOCK; see privilegesOf), in a throwaway network namespace
// with a veth for --iface and the controller of xlane-controller.service on its loopback. With those
// capabilities the agent installs its HTB qdisc and, once it sends on a lane, its nftables DSCP
// table, runs its engine thread at SCHED_FIFO (--fifo) with its memory locked, registers, and on
// SIGTERM removes what it installed and exits 0. Without them it does none of that, which shows
// that the unit's capabilities are what it takes. Root only (namespaces, setpriv's securebits).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/engine/native/addon.js';
import { Service } from './service-process.js';
import {
  execArgv,
  fromSources,
  makeUnitDirectories,
  parseLimit,
  privilegesOf,
  REPO,
  readUnit,
  type Specifiers,
  unitEnvironment,
  values,
} from './units.js';

function have(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

const canRun =
  process.getuid?.() === 0 &&
  have('ip', ['-V']) &&
  have('tc', ['-V']) &&
  have('nft', ['-v']) &&
  have('setpriv', ['--version']) &&
  have('prlimit', ['--version']);

const agentUnit = readUnit('xlane-agent.service');
const controllerUnit = readUnit('xlane-controller.service');
const SCHED_FIFO = 1;
const DEV = 'xv0';

describe.skipIf(!canRun)('xlane-agent.service with its unit privileges, in a network namespace', () => {
  const ns = `xld-${process.pid}-${randomBytes(3).toString('hex')}`;
  let dir: string;
  let spec: Specifiers;
  let controllerUrl: string;
  const started: Service[] = [];
  const inNs = (...args: string[]) => ['ip', 'netns', 'exec', ns, ...args];
  function inNsRun(
    args: string[],
    opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 60_000, ...opts });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  // systemd hands a service its unit's environment and a PATH, nothing of the caller's.
  const env = (unit: typeof agentUnit, overrides: Record<string, string>) => ({
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    ...unitEnvironment(unit, overrides),
  });

  function startUnit(unit: typeof agentUnit, overrides: Record<string, string>, caps?: string[]): Service {
    makeUnitDirectories(unit, spec);
    const e = env(unit, overrides);
    const argv = fromSources(execArgv(values(unit, 'Service', 'ExecStart')[0]!, e, spec, unit.name));
    const s = new Service(inNs(...privilegesOf(unit, caps), ...argv), e, REPO);
    started.push(s);
    return s;
  }

  /** The CLI from this checkout, inside the namespace, as an operator runs it. */
  const cli = (args: string[], extraEnv: Record<string, string>) =>
    inNsRun([process.execPath, '--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...extraEnv },
    });
  const qdisc = () => inNsRun(['tc', 'qdisc', 'show', 'dev', DEV]).stdout;
  const nftTable = () => inNsRun(['nft', 'list', 'table', 'ip', 'xlane']);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xlane-agent-unit-'));
    spec = { t: join(dir, 'run'), S: join(dir, 'state') };
    execFileSync('ip', ['netns', 'add', ns]);
    const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
    ip('link', 'set', 'lo', 'up');
    ip('link', 'add', DEV, 'type', 'veth', 'peer', 'name', 'xv1');
    ip('addr', 'add', '10.99.0.1/24', 'dev', DEV);
    ip('link', 'set', DEV, 'up');
    ip('link', 'set', 'xv1', 'up');
    const controller = startUnit(controllerUnit, {
      XLANE_LISTEN: '127.0.0.1:0',
      XLANE_TOPOLOGY: join(REPO, 'examples/testbed-3.yaml'),
    });
    controllerUrl = String((await controller.waitFor('controller listening')).url);
  });

  afterEach(() => {
    // The controller (started first) runs for the whole file; agents end with their test.
    for (const s of started.slice(1)) s.kill();
    started.splice(1);
  });

  afterAll(async () => {
    try {
      if (started[0]) expect(await started[0].stop()).toBe(0);
    } finally {
      for (const s of started) s.kill();
      spawnSync('ip', ['netns', 'del', ns]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });

  function agentOverrides(): Record<string, string> {
    const peers = join(dir, 'peers');
    writeFileSync(peers, 'h1 10.99.0.1\nh2 10.99.0.2\nh3 10.99.0.3\n');
    const example = unitEnvironment(agentUnit);
    return {
      XLANE_CONTROLLER: controllerUrl,
      XLANE_IFACE: DEV,
      XLANE_PEERS_FILE: peers,
      // The example's options, with SCHED_FIFO asked for in any case (what CAP_SYS_NICE is for) and
      // a receive mode that does not spin a CPU for the length of the test.
      XLANE_AGENT_OPTS: `${example.XLANE_AGENT_OPTS ?? ''} --fifo 10 --receive blocking`,
    };
  }

  it('with the unit capabilities: QoS, SCHED_FIFO, locked memory, registered; all removed on SIGTERM', async () => {
    const agent = startUnit(agentUnit, agentOverrides());
    await agent.waitFor('agent running');
    // The PID is the agent's own (ip netns exec, prlimit and setpriv exec, they do not fork).
    expect(agent.cmdline().some((a) => a.endsWith('src/cli/main.ts'))).toBe(true);
    expect(
      agent.has(
        /no CAP_NET_ADMIN|not made SCHED_FIFO|not placed as asked|WITHOUT kernel QoS|memory not locked/,
      ),
      agent.text(),
    ).toBe(false);
    expect(qdisc()).toMatch(/^qdisc htb e1: root/m);
    expect(
      agent.threads().some((t) => t.policy === SCHED_FIFO),
      agent.text(),
    ).toBe(true);
    // Exactly what the unit grants, nothing more: CAP_NET_ADMIN (12) and CAP_SYS_NICE (23).
    expect(BigInt(`0x${agent.status('CapEff')}`)).toBe((1n << 12n) | (1n << 23n));
    if (loadNativeAddon().ok) {
      const lockedKb = Number.parseInt(agent.status('VmLck'), 10);
      expect(lockedKb).toBeGreaterThan(0);
      expect(lockedKb * 1024).toBeLessThanOrEqual(
        parseLimit(values(agentUnit, 'Service', 'LimitMEMLOCK')[0]!),
      );
    }

    // docs/deploy.md's check, step 6: the host is there, and a lane from it goes live.
    const token = unitEnvironment(agentUnit).XLANE_TOKEN!;
    const clientEnv = { XLANE_CONTROLLER: controllerUrl, XLANE_TOKEN: token };
    const status = cli(['status', '--json'], clientEnv);
    expect(status.status, status.stderr).toBe(0);
    const h1 = (JSON.parse(status.stdout) as { hosts: { name: string; registered: boolean }[] }).hosts.find(
      (h) => h.name === 'h1',
    );
    expect(h1?.registered).toBe(true);
    const open = cli(
      [
        'lanes',
        'open',
        '--from',
        'h1',
        '--to',
        'h2',
        '--size',
        '64',
        '--period',
        '1ms',
        '--name',
        'deploy-check',
        '--wait',
      ],
      clientEnv,
    );
    expect(open.status, open.stderr).toBe(0);
    // The agent marks the lane's frames with nft once it sends on it (under the same capability).
    const deadline = Date.now() + 15_000;
    while (nftTable().status !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(nftTable().stdout, agent.text()).toMatch(/ip dscp set (46|ef)$/m);

    expect(await agent.stop()).toBe(0);
    expect(qdisc()).not.toMatch(/htb/);
    expect(nftTable().status).not.toBe(0);
  }, 120_000);

  it('without them: no QoS, no SCHED_FIFO, and the log says so', async () => {
    // What an agent killed in the test before may have left: this one could not remove it.
    inNsRun(['tc', 'qdisc', 'del', 'dev', DEV, 'root']);
    inNsRun(['nft', 'delete', 'table', 'ip', 'xlane']);
    const agent = startUnit(agentUnit, agentOverrides(), []);
    await agent.waitFor('agent running');
    expect(agent.status('CapEff')).toBe('0000000000000000');
    expect(agent.has(/^no CAP_NET_ADMIN: running without kernel QoS/)).toBe(true);
    expect(agent.has(/not made SCHED_FIFO|not placed as asked/)).toBe(true);
    expect(qdisc()).not.toMatch(/htb/);
    expect(agent.threads().some((t) => t.policy === SCHED_FIFO)).toBe(false);
    expect(await agent.stop()).toBe(0);
  }, 120_000);
});
