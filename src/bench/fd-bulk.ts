// `xlane bench fd`'s cross traffic: one bulk TCP flow (iperf3, testbed/traffic.ts) from every member
// to the next, so every host egress port and every switch port carries one. Each flow runs in
// segments back to back for as long as the observation goes on (iperf3 needs its duration up
// front); the share of the observation that some segment covered is measured, not assumed.
import { monotonicNs } from '../engine/clock.js';
import type { TestbedState } from '../testbed/state.js';
import { type CrossTrafficResult, runCrossTraffic } from '../testbed/traffic.js';
import type { ScoreWindow } from './fd-score.js';

/** Segments are at most this long, so the last one ends soon after the observation. */
const SEGMENT_SEC = 20;
const OVERTIME_SEC = 10;
const MAX_ERRORS = 3;

export interface BulkRun {
  from: string;
  to: string;
  results: CrossTrafficResult[];
  /** When each segment's transfer ran (ns; its last `seconds` before iperf3 returned). */
  spans: { startNs: number; endNs: number }[];
  errors: string[];
}

export interface BulkFlow {
  from: string;
  to: string;
  port: number;
}

/** A ring over the members: m0 → m1 → … → m0 (two members: one flow each way). */
export function ringFlows(members: readonly string[], firstPort: number): BulkFlow[] {
  return members.map((from, i) => ({ from, to: members[(i + 1) % members.length]!, port: firstPort + i }));
}

/** Segments of one flow while `on()` holds; the segment length shrinks towards `plannedEndMs`. */
export async function bulkLoop(
  state: TestbedState,
  flow: BulkFlow,
  streams: number,
  on: () => boolean,
  plannedEndMs: number,
  signal?: AbortSignal,
): Promise<BulkRun> {
  const run: BulkRun = { from: flow.from, to: flow.to, results: [], spans: [], errors: [] };
  while (on() && !signal?.aborted && run.errors.length < MAX_ERRORS) {
    // Up to the planned end, then (restarts ran late) OVERTIME_SEC at a time: short segments would
    // leave iperf3's start-up gaps in the cross traffic.
    const left = Math.ceil((plannedEndMs - Date.now()) / 1000) + 2;
    const seconds = left > 2 ? Math.min(SEGMENT_SEC, left) : OVERTIME_SEC;
    try {
      const r = await runCrossTraffic(state, {
        from: flow.from,
        to: flow.to,
        kind: 'tcp',
        seconds,
        port: flow.port,
        streams,
        ...(signal ? { signal } : {}),
      });
      const endNs = monotonicNs();
      run.results.push(r);
      run.spans.push({ startNs: endNs - seconds * 1e9, endNs });
    } catch (err) {
      run.errors.push((err as Error).message);
    }
  }
  return run;
}

/** Share of the window that some span covered. */
export function coverageOf(spans: readonly { startNs: number; endNs: number }[], w: ScoreWindow): number {
  const total = w.endNs - w.startNs;
  if (!(total > 0 && Number.isFinite(total))) return 0;
  const clipped = spans
    .map((s) => ({ a: Math.max(s.startNs, w.startNs), b: Math.min(s.endNs, w.endNs) }))
    .filter((s) => s.b > s.a)
    .sort((x, y) => x.a - y.a);
  let covered = 0;
  let reach = w.startNs;
  for (const s of clipped) {
    const a = Math.max(s.a, reach);
    if (s.b > a) covered += s.b - a;
    reach = Math.max(reach, s.b);
  }
  return covered / total;
}

/** Mean goodput (Mbit/s) of a flow over its segments, weighted by their length. */
export function meanMbps(results: readonly CrossTrafficResult[]): number {
  const seconds = results.reduce((a, r) => a + r.seconds, 0);
  if (seconds === 0) return 0;
  return results.reduce((a, r) => a + r.receivedBps * r.seconds, 0) / seconds / 1e6;
}
