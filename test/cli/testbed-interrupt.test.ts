// `xlane testbed up` interrupted by Ctrl-C while it builds (root, namespaces): it removes what it
// built (test/testbed/up-signals.test.ts) and must say so, or the user cannot tell what is left.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLE_TOPOLOGY } from '../../src/demo/controller-demo.js';
import { deleteNamespaces, testbedNamespaces } from '../../src/testbed/apply.js';
import { isRoot } from '../../src/testbed/netns.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const NAME = `t${process.pid}i`;
const runsDir = mkdtempSync(join(tmpdir(), 'xlane-up-interrupt-'));

function namespacesNow(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

describe.skipIf(!isRoot())('testbed up interrupted', { timeout: 60_000 }, () => {
  afterAll(() => {
    deleteNamespaces(testbedNamespaces(NAME));
    rmSync(runsDir, { recursive: true, force: true });
  });

  it('prints one line on stderr saying what it removed', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'testbed',
        'up',
        '--topology',
        EXAMPLE_TOPOLOGY,
        '--name',
        NAME,
        '--runs-dir',
        runsDir,
      ],
      { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let seen = false;
    for (let i = 0; i < 6000 && !seen && child.exitCode === null; i++) {
      seen = namespacesNow().some((n) => n.startsWith(`xtb-${NAME}-`));
      if (!seen) await new Promise((r) => setTimeout(r, 5));
    }
    expect(seen).toBe(true);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(
      new RegExp(`^interrupted \\(SIGINT\\): removed the testbed ${NAME} \\([1-9]\\d* namespaces\\)\\n$`),
    );
    expect(testbedNamespaces(NAME)).toEqual([]);
  });
});
