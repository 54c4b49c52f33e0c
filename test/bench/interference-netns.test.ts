// `xlane bench interference` for real (root, namespaces, iperf3), in a short version: the lanes come
// from a real controller, frames cross the shaped testbed while iperf3 saturates the receiver's port,
// every frame is recorded and judged against the grant's window, the run folder holds what the
// report needs, and nothing is left behind.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultInterferenceOptions, runInterference } from '../../src/bench/interference.js';
import type { InterferenceRecord } from '../../src/bench/interference-types.js';
import { loadNativeAddon } from '../../src/engine/native/addon.js';
import { measureRealtimeOffsetBest } from '../../src/engine/native/select.js';
import { monotonicPhaseNs } from '../../src/engine/schedule.js';
import { isRoot } from '../../src/testbed/netns.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const hasIperf3 = spawnSync('iperf3', ['--version']).status === 0;
const native = loadNativeAddon().ok;
const hasNft = spawnSync('nft', ['-v']).status === 0;

/** A lane's send times from its samples file: n received times, then n latencies (f64, ns). */
/** A sample file: n arrivals, n latencies, n kernel latencies (interference-peer-protocol.ts). */
function samplesOf(file: string) {
  const buf = readFileSync(file);
  const n = buf.length / 24;
  const f = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  return { n, received: f.subarray(0, n), latency: f.subarray(n, 2 * n), kernel: f.subarray(2 * n, 3 * n) };
}

function sentTimes(file: string): number[] {
  const s = samplesOf(file);
  return Array.from({ length: s.n }, (_, i) => s.received[i]! - s.latency[i]!);
}

const netnsList = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;

describe.skipIf(!isRoot() || !hasIperf3)('bench interference on the namespace testbed (root, iperf3)', () => {
  it('records every frame of both lanes in idle, express and fifo and leaves no namespace behind', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'xlane-interference-'));
    const phases: string[] = [];
    const r = await runInterference({
      ...defaultInterferenceOptions(),
      topologyFile: join(REPO, 'examples/testbed-3.yaml'),
      runsDir,
      // At least a second, then until both lanes have 12,000 frames (1.2 s of periods each), within 6 s.
      seconds: 1,
      minMessages: 12_000,
      maxSeconds: 6,
      engine: native ? 'native' : 'js',
      // Frames are judged on their grant's phase below, so they must leave on time: the margin may
      // grow to the machine's wake-up latency (40 µs at the median on some VMs, where the default
      // 30 µs cap left 26-31 % of L1's frames on phase). The extra spinning only costs latency,
      // which this test does not judge, in a run of a second.
      maxSpinUs: 100,
      command: 'test',
      onProgress: (p) => {
        const key = `${p.mode}:${p.phase}`;
        if (phases[phases.length - 1] !== key) phases.push(key);
      },
    });
    expect(r.output.runs.map((x) => x.mode)).toEqual(['idle', 'express', 'fifo']);
    expect(phases).toContain('express:recording');
    const record = JSON.parse(
      readFileSync(join(r.runDir, 'interference.json'), 'utf8'),
    ) as InterferenceRecord;
    expect(record.kind).toBe('xlane-interference');
    // The windows are the controller's grants, h1→h2 and h3→h2 through s1.
    expect(record.allocation.lanes.map((l) => [l.from, l.to[0], l.path])).toEqual([
      ['h1', 'h2', ['h1', 's1', 'h2']],
      ['h3', 'h2', ['h3', 's1', 'h2']],
    ]);
    for (const run of record.runs) {
      expect(run.lanes).toHaveLength(2);
      const fewest = Math.min(...run.lanes.map((l) => l.messages));
      expect(run.seconds).toBeGreaterThanOrEqual(1);
      expect(run.seconds).toBeLessThan(6 + 1);
      if (run.seconds < 6) expect(fewest, `${run.mode} in ${run.seconds} s`).toBeGreaterThanOrEqual(12_000);
      for (const l of run.lanes) {
        const grant = record.allocation.lanes.find((a) => a.lane === l.lane)!;
        expect(l.boundUs).toBeCloseTo(grant.lambdaMaxUs, 2);
        // One second at 100 µs: thousands of frames, whatever the machine's load.
        expect(l.messages).toBeGreaterThan(1000);
        expect(l.p50Us).toBeGreaterThan(0);
        expect(l.maxUs).toBeGreaterThanOrEqual(l.p999Us);
        expect(l.cdf[l.cdf.length - 1]!.fraction).toBe(1);
        expect(l.series.length).toBeGreaterThan(0);
      }
      // Every lane frame crossed the bottleneck port in its express class (fifo has none).
      const frames = run.lanes.reduce((n, l) => n + l.messages, 0);
      if (run.mode === 'fifo') expect(run.bottleneckExpressPackets).toBeUndefined();
      else expect(run.bottleneckExpressPackets).toBeGreaterThanOrEqual(frames);
      if (run.mode === 'idle') expect(run.bulkMbps).toBe(0);
      else {
        // That the bulk ran: its rate is the bench's to report (a run of a second or two on a
        // loaded machine measured 93 Mbit/s once, with TCP still ramping up).
        expect(run.bulkMbps).toBeGreaterThan(10);
        expect(run.bulk.length).toBeGreaterThan(0);
      }
    }
    expect(readdirSync(join(r.runDir, 'samples')).filter((f) => f.endsWith('.f64'))).toHaveLength(6);
    // Every host measured its own bounds (the default), and with the native engine says how often
    // its calibration waited on its application.
    expect(record.hostBounds!.map((h) => [h.host, h.source])).toEqual([
      ['h1', 'measured'],
      ['h2', 'measured'],
      ['h3', 'measured'],
    ]);
    for (const h of record.hostBounds!) {
      expect(h.samples).toBeGreaterThan(1000);
      if (native) expect(h.calibrationRingFullWaits).toBeGreaterThanOrEqual(0);
      else expect(h.calibrationRingFullWaits).toBeUndefined();
    }
    // The native engine's kernel stamps: every frame reached the receiving kernel after it was sent
    // and before the engine had it; each late message is put down to one side or the other.
    for (const run of record.runs)
      for (const l of run.lanes) {
        const s = samplesOf(join(r.runDir, 'samples', `${run.mode}-${l.lane}.f64`));
        expect(s.n).toBe(l.messages);
        const c = l.outlierCauses!;
        expect(c.late + c.early).toBe(l.outliers);
        expect(c.lateInReceiver + c.lateOnArrival + c.lateUnknown).toBe(c.late);
        if (!native) continue;
        // The receiver's engine counted what its application and its backup reader did.
        expect(run.receiverEngine).toMatchObject({
          ringFullWaits: expect.any(Number),
          backupReads: expect.any(Number),
        });
        const unstamped = s.kernel.filter((k) => !(k > 0)).length;
        const afterDelivery = s.kernel.filter((k, i) => k > s.latency[i]!).length;
        expect({ unstamped, afterDelivery }, `${run.mode} ${l.lane}`).toEqual({
          unstamped: 0,
          afterDelivery: 0,
        });
        expect(c.lateUnknown).toBe(0);
      }
    // The phases from the grants, end to end: the two lanes share h2's port, so the controller put
    // them half a period apart, and each sender's frames left on its own grant's phase (converted
    // to the monotonic clock by the bench as an agent does; E = 20 µs in testbed-3.yaml).
    const [g1, g2] = record.allocation.lanes;
    const P = g1!.periodNs;
    expect(g2!.periodNs).toBe(P);
    expect((((g2!.phaseNs! - g1!.phaseNs!) % P) + P) % P).toBe(P / 2);
    // As the bench measures it: in C when the addon is there (a JS measurement, bracketing the ms
    // tick, can be tens of µs off on this VM; see measureRealtimeOffsetBest).
    const offset = measureRealtimeOffsetBest().offsetNs;
    // A spinning sender leaves within ns of its boundary, and this test's measurement of the clock
    // offset differs from the bench's by a few hundred ns: a frame on its phase point can show a
    // residue just below 0. So "on phase" is from 5 µs before the point to E after it.
    const E = 20_000;
    const slack = 5_000;
    for (const g of [g1!, g2!]) {
      const phase = monotonicPhaseNs(g.phaseNs!, P, offset);
      const sent = sentTimes(join(r.runDir, 'samples', `idle-${g.lane}.f64`));
      const share = (from: number) =>
        sent.filter((t) => (((t - phase - from + slack) % P) + P) % P <= E + slack).length / sent.length;
      const onPhase = share(0);
      const elsewhere = [P / 4, P / 2, (3 * P) / 4].map(share);
      // Measured with phases: 99.5–99.8 % on a quiet machine in the eleventh session; 54–65 % in
      // the eighteenth session's quiet runs and 49.9 % (15.6 % opposite) in a loaded CI run, the
      // rest spread evenly over the period: a frame released more than E late starts a new grid,
      // which walks back to the phase by at most E a period (schedule.ts), and on this VM wake-ups
      // are often later than the spin margin. Without phases a lane's grid stays where its first
      // frame put it, and this window held 33.5 % of L1's frames (9.3 % opposite): the grid was
      // partly in it, and another quarter held the rest. So: the phase's window holds more than a
      // uniform spread would (25 %), and over twice as many frames as each other quarter.
      const what = `${g.lane}: ${(onPhase * 100).toFixed(1)} % on phase, other quarters ${elsewhere.map((x) => (x * 100).toFixed(1)).join(' / ')} %`;
      expect(onPhase, what).toBeGreaterThan(0.3);
      for (const x of elsewhere) expect(onPhase, what).toBeGreaterThan(2 * x);
    }
    expect(existsSync(join(runsDir, `xif-${process.pid}`, 'testbed.json'))).toBe(false);
    expect(netnsList()).not.toContain(`xtb-xif-${process.pid}-`);
  }, 180_000);

  it.skipIf(!hasNft)(
    "the js engine's frames, DSCP-marked by the kernel, cross the bottleneck in the express class",
    async () => {
      const runsDir = mkdtempSync(join(tmpdir(), 'xlane-interference-js-'));
      const r = await runInterference({
        ...defaultInterferenceOptions(),
        topologyFile: join(REPO, 'examples/testbed-3.yaml'),
        runsDir,
        seconds: 1,
        minMessages: 0,
        engine: 'js',
        // What this test judges is the marking, not the bounds: a host calibration that catches a
        // long stall (369 ms once, in a CI run with every test file sharing two vCPUs) would get
        // the lanes refused at admission.
        hostBounds: 'declared',
        command: 'test',
      });
      const record = JSON.parse(
        readFileSync(join(r.runDir, 'interference.json'), 'utf8'),
      ) as InterferenceRecord;
      const express = record.runs.find((x) => x.mode === 'express')!;
      const frames = express.lanes.reduce((n, l) => n + l.messages, 0);
      expect(frames).toBeGreaterThan(1000);
      expect(express.bottleneckExpressPackets).toBeGreaterThanOrEqual(frames);
      expect(netnsList()).not.toContain(`xtb-xif-${process.pid}-`);
    },
    180_000,
  );

  it('Ctrl-C while recording stops the peers and removes the testbed, exit status 130', async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'xlane-interference-int-'));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO, 'src/cli/main.ts'),
        'bench',
        'interference',
        '--seconds',
        '60',
        '--modes',
        'express',
        '--host-bounds',
        'declared',
        '--runs-dir',
        runsDir,
        '--topology',
        join(REPO, 'examples/testbed-3.yaml'),
      ],
      { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    const prefix = `xtb-xif-${child.pid}-`;
    try {
      const deadline = Date.now() + 90_000;
      while (!/express \d+\/60 s/.test(err) && Date.now() < deadline && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 200));
      expect(err, err).toMatch(/express \d+\/60 s/);
      expect(netnsList()).toContain(prefix);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      expect(code).toBe(130);
      expect(netnsList()).not.toContain(prefix);
      // Nothing of the run is left running: no peer names this testbed any more.
      const peers = spawnSync('pgrep', ['-f', `"testbed":"xif-${child.pid}"`], {
        encoding: 'utf8',
      }).stdout.trim();
      expect(peers).toBe('');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});
