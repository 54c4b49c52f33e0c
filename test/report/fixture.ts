// A plausible interference record for report tests: 3 modes × 2 lanes, curves drawn from a seeded
// log-normal model. NOT measured data — only shaped like what `xlane bench interference` writes.
// The express run of lane L1 has PINNED summary numbers so tests can assert the exact table text.
import type {
  InterferenceMode,
  InterferenceRecord,
  InterferenceRunDetail,
  LaneLatencyDetail,
} from '../../src/bench/interference-types.js';
import { mulberry32, type Rng } from '../../src/bench/prng.js';

export const PINNED = {
  p50Us: 23.4,
  p99Us: 41.7,
  p999Us: 57.2,
  p9999Us: 79.5,
  maxUs: 88.1,
  withinBound: 0.99993,
  tightness: 3.91,
  tightnessFloor: 1.39,
  messages: 19_998,
  lost: 2,
  sendRate: 0.7181,
  outliers: 7,
} as const;

interface LaneShape {
  lane: string;
  name: string;
  from: string;
  to: string;
  periodNs: number;
  /** Absent: a record written before grants had phases. */
  phaseNs?: number;
  payloadBytes: number;
  lambdaMinUs: number;
  boundUs: number;
}

const SECONDS = 10;
const WINDOWS = 100;
const CDF_POINTS = 300;
const SAMPLES = 20_000;

/** Median and log-spread of the one-way latency per mode: FIFO queues behind the bulk flow. */
const MODEL: Record<InterferenceMode, { medianUs: number; sigma: number; bulkMbps: number }> = {
  idle: { medianUs: 19, sigma: 0.15, bulkMbps: 0 },
  express: { medianUs: 24, sigma: 0.25, bulkMbps: 941.3 },
  fifo: { medianUs: 850, sigma: 0.6, bulkMbps: 936.8 },
};

function gaussian(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function laneDetail(rng: Rng, mode: InterferenceMode, shape: LaneShape): LaneLatencyDetail {
  const m = MODEL[mode];
  const samples = Array.from({ length: SAMPLES }, () => m.medianUs * Math.exp(m.sigma * gaussian(rng)));
  const sorted = [...samples].sort((a, b) => a - b);
  const lo = sorted[0]!;
  const hi = sorted[sorted.length - 1]!;
  const cdf: LaneLatencyDetail['cdf'] = [];
  let k = 0;
  for (let i = 0; i < CDF_POINTS; i++) {
    const x = lo * (hi / lo) ** (i / (CDF_POINTS - 1));
    while (k < sorted.length && sorted[k]! <= x) k++;
    cdf.push({ latencyUs: x, fraction: k / sorted.length });
  }
  cdf[cdf.length - 1]!.fraction = 1;
  const perWindow = SAMPLES / WINDOWS;
  const series = Array.from({ length: WINDOWS }, (_, w) => {
    const win = samples.slice(w * perWindow, (w + 1) * perWindow).sort((a, b) => a - b);
    return {
      tSec: ((w + 1) * SECONDS) / WINDOWS,
      p50Us: quantile(win, 0.5),
      p99Us: quantile(win, 0.99),
      maxUs: win[win.length - 1]!,
      messages: win.length,
    };
  });
  const outside = samples
    .map((latencyUs, i) => ({ tSec: (i * SECONDS) / SAMPLES, latencyUs }))
    .filter((s) => s.latencyUs < shape.lambdaMinUs || s.latencyUs > shape.boundUs);
  const p999 = quantile(sorted, 0.999);
  return {
    ...shape,
    p50Us: quantile(sorted, 0.5),
    p99Us: quantile(sorted, 0.99),
    p999Us: p999,
    p9999Us: quantile(sorted, 0.9999),
    maxUs: hi,
    withinBound: 1 - outside.length / SAMPLES,
    messages: SAMPLES,
    lost: 0,
    outliers: outside.length,
    tightness: shape.boundUs / p999,
    tightnessFloor: quantile(sorted, 0.9999) / p999,
    cdf,
    series,
    firstOutliers: outside.slice(0, 100),
  };
}

export interface FixtureOptions {
  /** Replace the two lane names (to test escaping). */
  laneNames?: [string, string];
  /** Replace the two lane ids (to test that file names never come from the record raw). */
  laneIds?: [string, string];
  notes?: string[];
  seed?: number;
}

export function makeRecord(opts: FixtureOptions = {}): InterferenceRecord {
  const rng = mulberry32(opts.seed ?? 7);
  const [n1, n2] = opts.laneNames ?? ['hb-h1-h3', 'raft-h2-h3'];
  const [id1, id2] = opts.laneIds ?? ['L1', 'L2'];
  const shapes: LaneShape[] = [
    {
      lane: id1,
      name: n1,
      from: 'h1',
      to: 'h3',
      periodNs: 100_000,
      phaseNs: 50_000,
      payloadBytes: 64,
      lambdaMinUs: 8.5,
      boundUs: 224,
    },
    {
      lane: id2,
      name: n2,
      from: 'h2',
      to: 'h3',
      periodNs: 1_000_000,
      payloadBytes: 256,
      lambdaMinUs: 8.5,
      boundUs: 220.2,
    },
  ];
  const modes: InterferenceMode[] = ['idle', 'express', 'fifo'];
  const runs: InterferenceRunDetail[] = modes.map((mode, i) => {
    const m = MODEL[mode];
    return {
      mode,
      bulkMbps: m.bulkMbps,
      seconds: SECONDS,
      startedAt: `2025-01-01T10:0${i}:00.000Z`,
      bulk:
        mode === 'idle'
          ? []
          : Array.from({ length: SECONDS }, (_, s) => ({ tSec: s + 1, mbps: m.bulkMbps + 8 * Math.sin(s) })),
      engine: { engine: 'native', receive: 'blocking', fifoPriority: mode === 'fifo' },
      lanes: shapes.map((s) => laneDetail(rng, mode, s)),
      // The idle run stands for a record from before these fields (they are optional).
      ...(mode === 'idle' ? {} : { linkMbps: 1000, cpuShare: { busy: 0.9551, steal: 0.012 } }),
    };
  });
  Object.assign(runs[1]!.lanes[0]!, PINNED);
  return {
    kind: 'xlane-interference',
    version: 1,
    createdAt: '2025-01-01T10:03:00.000Z',
    command: 'xlane bench interference --topology examples/testbed-3.yaml --seconds 10',
    topology: 'examples/testbed-3.yaml',
    machine: { cpus: 2, loadAvg1: 0.42, kernel: '6.1.0-test' },
    allocation: {
      lanes: shapes.map((s) => ({
        lane: s.lane,
        name: s.name,
        from: s.from,
        to: [s.to],
        payloadBytes: s.payloadBytes,
        periodNs: s.periodNs,
        ...(s.phaseNs !== undefined ? { phaseNs: s.phaseNs } : {}),
        lambdaMinUs: s.lambdaMinUs,
        lambdaMaxUs: s.boundUs,
        path: [s.from, 's1', s.to],
      })),
      ports: [
        {
          from: 'h1',
          to: 's1',
          rateBps: 1e9,
          expressShare: 0.2,
          expressLoadBps: 5.12e6,
          delayBoundUs: 33.712,
        },
        {
          from: 'h2',
          to: 's1',
          rateBps: 1e9,
          expressShare: 0.2,
          expressLoadBps: 2.048e6,
          delayBoundUs: 30.086,
        },
        {
          from: 's1',
          to: 'h3',
          rateBps: 1e9,
          expressShare: 0.2,
          expressLoadBps: 7.168e6,
          delayBoundUs: 59.399,
        },
      ],
    },
    hostBounds: [
      { host: 'h1', source: 'topology', sendUs: [2, 10], recvUs: [3, 12] },
      {
        host: 'h3',
        source: 'calibration',
        sendUs: [1.5, 22.4],
        recvUs: [2, 31.7],
        observedMaxUs: 48.2,
        samples: 5000,
      },
    ],
    runs,
    targets: {
      expressP99AtMost1_5xIdle: true,
      fifoP99AtLeast10xExpress: true,
      withinBoundAtLeast99_99: false,
      tightnessAtMost5: true,
      bulkWithin10PctOfLink: true,
      atLeast100kMessagesPerLane: null,
    },
    notes: opts.notes ?? [
      'fixture data, not a measurement',
      'the two hosts share 2 vCPUs with the bulk flow',
    ],
  };
}
