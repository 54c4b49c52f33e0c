// `xlane testbed up` stopped by a signal while it builds (root): SIGINT, SIGTERM or SIGHUP removes
// every namespace built so far and exits 128 + the signal number; after a build that completes, no
// handler stays behind in the process.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteNamespaces, testbedNamespaces } from '../../src/testbed/apply.js';
import { testbedDown, testbedUpInterruptible } from '../../src/testbed/lifecycle.js';
import { isRoot } from '../../src/testbed/netns.js';
import { loadTopologyFile } from '../../src/topology/load.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// The command's own register() in a process we signal directly (npx/tsx wrappers in between would
// relay the signal and rewrite the exit status).
const CLI = fileURLToPath(new URL('./fixtures/testbed-cli.ts', import.meta.url));
const TESTBED3 = join(REPO, 'examples/testbed-3.yaml');
const runsDir = mkdtempSync(join(tmpdir(), 'xlane-upsig-'));
// Unique per test process (the testbed prefix is xtb-<name>-), so parallel runs never collide.
const NAME = (tag: string) => `t${process.pid}${tag}`;
const used = new Set<string>();

/** Namespaces under /run/netns (what `ip netns list` reads), cheap enough to poll every few ms. */
function namespacesNow(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

describe.skipIf(!isRoot())('testbed up interrupted by a signal', { timeout: 60_000 }, () => {
  afterAll(() => {
    for (const name of used) deleteNamespaces(testbedNamespaces(name));
    rmSync(runsDir, { recursive: true, force: true });
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const)('%s while building: nothing of the run remains, exit %i', async (signal, status) => {
    const name = NAME(signal.slice(3, 4));
    used.add(name);
    const prefix = `xtb-${name}-`;
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        CLI,
        'testbed',
        'up',
        '--topology',
        TESTBED3,
        '--name',
        name,
        '--runs-dir',
        runsDir,
      ],
      { cwd: REPO, stdio: 'ignore' },
    );
    const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((r) =>
      child.once('exit', (code, sig) => r({ code, sig })),
    );
    // The first namespace exists: the build has begun, and dozens of ip/tc steps are still to come.
    let seen = false;
    for (let i = 0; i < 6000 && !seen && child.exitCode === null; i++) {
      seen = namespacesNow().some((n) => n.startsWith(prefix));
      if (!seen) await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen).toBe(true);
    child.kill(signal);
    expect(await exited).toEqual({ code: status, sig: null });
    expect(testbedNamespaces(name)).toEqual([]);
    expect(existsSync(join(runsDir, name, 'testbed.json'))).toBe(false);
  });

  it('a completed build leaves no signal or exit handler behind', async () => {
    const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'exit'] as const;
    const before = events.map((e) => process.listenerCount(e));
    const name = NAME('ok');
    used.add(name);
    const { state } = await testbedUpInterruptible(loadTopologyFile(TESTBED3), { name, runsDir });
    try {
      expect(testbedNamespaces(name).sort()).toEqual(state.namespaces.slice().sort());
      expect(events.map((e) => process.listenerCount(e))).toEqual(before);
    } finally {
      testbedDown(runsDir, name);
    }
    expect(testbedNamespaces(name)).toEqual([]);
  });
});
