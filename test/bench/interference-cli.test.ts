// The command line users actually type: `xlane bench interference --json`, run through tsx as a
// separate process, in its smallest form (1 s per mode, the topology's declared host bounds so no
// calibration). stdout must be exactly the documented JSON summary, and the testbed it builds per
// mode must be gone when it exits.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/engine/native/addon.js';
import { NO_DATA_FIELDS, OPTIONAL_NO_DATA_FIELDS } from '../../src/report/schema.js';
import { isRoot } from '../../src/testbed/netns.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const hasIperf3 = spawnSync('iperf3', ['--version']).status === 0;
const native = loadNativeAddon().ok;

const netnsList = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** npx → tsx → node: the bench names its testbed after the pid of the last, which we do not get. */
function descendants(root: number): number[] {
  const rows = spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number));
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [pid, ppid] of rows) {
      if (ppid === p && pid !== undefined) {
        out.push(pid);
        queue.push(pid);
      }
    }
  }
  return out;
}

// Every figure a lane can lack (null when it got no message) must be a number when it got some.
const LANE_FIELDS = ['boundUs', 'messages', ...NO_DATA_FIELDS, ...OPTIONAL_NO_DATA_FIELDS];

describe('xlane bench interference: the calibration policy flags', () => {
  it('refuses a policy out of range before it builds anything', () => {
    const r = spawnSync(
      'npx',
      [
        'tsx',
        'src/cli/main.ts',
        'bench',
        'interference',
        '--bounds-factor',
        '0.5',
        '--bounds-min-factor',
        '1.5',
      ],
      {
        cwd: REPO,
        encoding: 'utf8',
      },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /XL_ERR_VALIDATION: host bounds policy: safetyFactor must be ≥ 1, got 0.5; minFactor must be in \(0, 1\], got 1.5/,
    );
  });
});

describe.skipIf(!isRoot() || !hasIperf3)('xlane bench interference --json (root, iperf3)', () => {
  it('prints the summary of idle, express and fifo as JSON and leaves no namespace behind', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'xlane-interference-cli-'));
    const child = spawn(
      'npx',
      [
        'tsx',
        'src/cli/main.ts',
        'bench',
        'interference',
        '--seconds',
        '1',
        '--min-messages',
        '0',
        '--host-bounds',
        'declared',
        '--engine',
        native ? 'native' : 'js',
        '--runs-dir',
        runsDir,
        '--json',
      ],
      // Its own process group, so a test timeout can Ctrl-C the whole tree (the bench then cleans up).
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const pids = new Set<number>();
    const seen = new Set<string>();
    try {
      const deadline = Date.now() + 80_000;
      while (child.exitCode === null && Date.now() < deadline) {
        for (const p of descendants(child.pid!)) pids.add(p);
        for (const m of netnsList().matchAll(/^xtb-xif-(\d+)-\S+/gm))
          if (pids.has(Number(m[1]))) seen.add(m[0]);
        await sleep(250);
      }
      const code = await Promise.race([exited, sleep(1000).then(() => 'still running')]);
      expect(code, stderr).toBe(0);

      const out = JSON.parse(stdout) as {
        runs: {
          mode: string;
          bulkMbps: number;
          linkMbps: number;
          cpuShare: { busy: number; steal: number };
          lanes: Record<string, unknown>[];
        }[];
        targets: Record<string, unknown>;
      };
      expect(out.runs.map((r) => r.mode)).toEqual(['idle', 'express', 'fifo']);
      // Every target is judged (true or false) when all three modes ran.
      expect(Object.keys(out.targets).length).toBe(6);
      for (const v of Object.values(out.targets)) expect(typeof v).toBe('boolean');
      for (const r of out.runs) {
        expect(typeof r.bulkMbps).toBe('number');
        expect(r.linkMbps).toBeGreaterThan(0);
        expect(r.cpuShare.busy).toBeGreaterThan(0);
        expect(r.cpuShare.busy).toBeLessThanOrEqual(1);
        expect(r.lanes.map((l) => l.lane)).toEqual(['L1', 'L2']);
        for (const l of r.lanes) {
          for (const f of LANE_FIELDS) expect(typeof l[f], `${r.mode} ${l.lane} ${f}`).toBe('number');
          expect(l.messages).toBeGreaterThan(0);
        }
      }

      // The check below looks at the right process: its testbed was seen while it ran.
      expect(seen.size).toBeGreaterThan(0);
      const left = netnsList();
      for (const ns of seen) expect(left).not.toContain(ns);
      for (const p of pids) expect(left).not.toContain(`xtb-xif-${p}-`);
      expect(readdirSync(runsDir).filter((f) => !f.startsWith('interference-'))).toEqual([]);
    } finally {
      if (child.exitCode === null) {
        process.kill(-child.pid!, 'SIGINT');
        await Promise.race([exited, sleep(15_000)]);
        if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      }
      rmSync(runsDir, { recursive: true, force: true });
    }
  }, 90_000);
});
