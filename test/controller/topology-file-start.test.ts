// `xlane controller --topology FILE` on a state file that already holds a topology: the stored one
// wins, so a FILE that is missing or does not parse is a warning and the controller starts. With a
// state file that holds none, the same FILE stops the start as before, and leaves no state file.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerClient } from '../../src/client/controller-client.js';
import { lane, REPO, spawnControllerCli, startTestController } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'xlane-topology-file-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const MISSING = join(dir, 'gone.yaml');
const BAD_YAML = join(dir, 'bad.yaml');
const INVALID = join(dir, 'invalid.yaml');
writeFileSync(BAD_YAML, 'name: t\nhosts:\n  - name: h1\n    x: [1, 2\n');
writeFileSync(INVALID, 'name: t\nhosts: 3\n');

/** One JSON log line of the controller's output with this msg. */
function logLine(out: string, msg: string): Record<string, unknown> | undefined {
  for (const l of out.split('\n')) {
    if (!l.startsWith('{')) continue;
    const o = JSON.parse(l) as Record<string, unknown>;
    if (o.msg === msg) return o;
  }
  return undefined;
}

const NOT_USED = 'cannot use the --topology file; starting with the topology in the state file';

describe('a --topology file the stored topology makes unnecessary', () => {
  const db = join(dir, 'state.db');
  let laneId = '';

  beforeAll(async () => {
    // A controller that stored the testbed's topology and one lane, then stopped.
    const c = await startTestController({ dbPath: db });
    try {
      laneId = (await new ControllerClient({ url: c.url }).openLane(lane('h1', ['h2']))).lane.id;
    } finally {
      await c.close();
    }
  });

  it.each([
    ['missing', MISSING, 'XL_ERR_FILE', /gone\.yaml: cannot read topology: no such file/],
    ['not YAML', BAD_YAML, 'XL_ERR_BAD_YAML', /bad\.yaml:5:1: Flow sequence/],
    ['not a topology', INVALID, 'XL_ERR_VALIDATION', /invalid\.yaml:2:8: hosts: expected a list/],
  ])(
    '%s: a warning naming the file and the error, and the controller starts on its state',
    async (_, file, code, error) => {
      const { child, url, log } = await spawnControllerCli(db, children, file);
      try {
        const warning = logLine(log(), NOT_USED);
        expect(warning, log()).toMatchObject({ level: 40, file, code, error: expect.stringMatching(error) });
        const client = new ControllerClient({ url });
        expect((await client.topology()).name).toBe('testbed-3');
        expect((await client.lane(laneId)).state).toBe('live');
      } finally {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  );
});

describe('a --topology file a new state file needs', () => {
  it.each([
    ['missing', MISSING, 'XL_ERR_FILE', /gone\.yaml: cannot read topology: no such file/],
    ['not YAML', BAD_YAML, 'XL_ERR_BAD_YAML', /bad\.yaml:5:1: Flow sequence/],
    ['not a topology', INVALID, 'XL_ERR_VALIDATION', /invalid\.yaml:2:8: hosts: expected a list/],
  ])('%s: the start fails with the file’s error and leaves no state file', (name, file, code, error) => {
    const db = join(dir, `new-${name.replace(/\W/g, '-')}.db`);
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'controller',
        '--topology',
        file,
        '--db',
        db,
        '--listen',
        '127.0.0.1:0',
      ],
      { cwd: REPO, encoding: 'utf8', env: { ...process.env, XLANE_TOKEN: '' }, timeout: 60_000 },
    );
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain(`xlane: ${code}: `);
    expect(r.stderr).toMatch(error);
    expect(r.stdout).not.toContain(NOT_USED);
    expect(existsSync(db)).toBe(false);
  });
});
