// `xlane bench fd` for real (root, namespaces, iperf3), in a short version: three members on the
// shaped testbed with lanes from a real controller, bulk cross traffic on every port, three crashes
// (SIGKILL) each followed by a restart as a new incarnation. Asserted is what holds on any machine:
// every crash is accounted for by every detector at every observer, X-FD never suspects before TO
// after the last heartbeat, the run file holds what the output says, and nothing is left behind.
// The figures themselves (detection times, false positives) depend on the machine's load and are
// reported by the bench, not asserted here.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FdBenchOutput, FdBenchRecord } from '../../src/bench/fd-types.js';
import { loadNativeAddon } from '../../src/engine/native/addon.js';
import { isRoot } from '../../src/testbed/netns.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const hasIperf3 = spawnSync('iperf3', ['--version']).status === 0;
const native = loadNativeAddon().ok;
const INJECTIONS = 3;

describe('xlane bench fd options', () => {
  it('refuses a bad option with XL_ERR_VALIDATION before building anything', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'bench', 'fd', '--receive', 'sometimes', '--json'],
      { cwd: REPO, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/XL_ERR_VALIDATION/);
    expect(r.stderr).toMatch(/receive/);
    expect(r.stdout).toBe('');
  }, 70_000);
});

describe.skipIf(!isRoot() || !hasIperf3)('bench fd on the namespace testbed (root, iperf3)', () => {
  it('accounts for every crash in every detector, never suspects early, and leaves nothing behind', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'xlane-bench-fd-'));
    // Through the command a user runs: option parsing, the progress lines, the JSON on stdout.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'bench',
        'fd',
        '--topology',
        join(REPO, 'examples/testbed-3.yaml'),
        '--runs-dir',
        runsDir,
        '--minutes',
        '0.1',
        '--injections',
        String(INJECTIONS),
        '--warmup',
        '1',
        '--engine',
        native ? 'native' : 'js',
        '--json',
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, stderr).toBe(0);
    // The bench names its testbed after its process: the child's pid.
    const tag = `xfd-${child.pid}`;
    const lines = stderr.split('\n').filter((l) => /^\[fd\] injection \d+\//.test(l));
    const r = { output: JSON.parse(stdout) as FdBenchOutput };
    const out = r.output;
    const runDir = out.runDir;
    expect(lines).toHaveLength(INJECTIONS);
    expect(out.injections).toBe(INJECTIONS);
    expect(out.heartbeatUs).toBe(100);
    // TO = π + λ_min + 2δ from the controller's grants, for every observer and member.
    const record = JSON.parse(readFileSync(join(runDir, 'fd.json'), 'utf8')) as FdBenchRecord;
    expect(record.kind).toBe('xlane-bench-fd');
    for (const lane of record.lanes) {
      expect(lane.periodNs).toBe(100_000);
      for (const w of lane.windows) {
        const to = record.timeoutsUs[w.host]![lane.sender]!;
        expect(to).toBeCloseTo(100 + w.lambdaMinUs + 2 * (w.lambdaMaxUs - w.lambdaMinUs), 6);
      }
    }
    expect(out.timeoutUs).toBe(
      Math.max(...Object.values(record.timeoutsUs).flatMap((m) => Object.values(m))),
    );
    // Every crash, seen by both other members: detected, already suspected (a false suspicion was
    // running when it crashed), or missed — by each detector.
    const pairs = INJECTIONS * 2;
    for (const d of [out, out.phiAccrual, out.fixedTimeout])
      expect(d.detections + d.alreadySuspected + d.missed).toBe(pairs);
    // The killed member's heartbeats stop: a crash is never missed by X-FD.
    expect(out.missed).toBe(0);
    for (const d of record.xfd.detections) {
      expect(d.sinceLastArrivalNs).toBeGreaterThanOrEqual(record.timeoutsUs[d.observer]![d.member]! * 1000);
      expect(d.detectionNs).toBeGreaterThanOrEqual(0);
    }
    expect(record.injections.map((i) => i.victim)).toEqual(['h1', 'h2', 'h3']);
    for (const i of record.injections) expect(i.reviveNs).toBeGreaterThan(i.crashNs);
    expect(out.bulkMbps).toBeGreaterThan(100);
    expect(out.observedMinutes).toBeGreaterThanOrEqual(0.1);
    // Heartbeats arrived, and never more than the members owed each other (the share errs low).
    for (const share of [out.heartbeatShare.engine, out.heartbeatShare.dgram]) {
      expect(share).toBeGreaterThan(0);
      expect(share).toBeLessThanOrEqual(1.01);
    }
    // Every X-FD false positive the engine ended with a frame is judged, and each judged one broke
    // at least one premise or is counted as unexplained.
    const c = out.falsePositiveCauses;
    expect(c.judged).toBeLessThanOrEqual(out.falsePositives);
    expect(c.senderLate + c.inFlightLate + c.arrivedInTime + c.unexplained).toBeGreaterThanOrEqual(c.judged);
    expect(existsSync(join(runsDir, tag, 'testbed.json'))).toBe(false);
    expect(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout).not.toContain(`xtb-${tag}-`);
    expect(spawnSync('pgrep', ['-f', tag]).status).toBe(1);
  }, 240_000);
});
