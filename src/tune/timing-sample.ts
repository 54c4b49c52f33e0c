// `tune check --measure`: what a lane core's timing is like, measured rather than read from
// configuration — how late a timed sleep ends (the margin a sleep-then-spin sender needs), and how
// much time a thread that never sleeps loses, and how often (interrupts, the scheduler tick, a
// hypervisor running something else). A worker thread on the lane core does both; the findings are
// pure functions of the sample (probes-timing.ts). The same two effects are measured in C by
// bench/c/gap-probe.c and cyclictest; this is their quick, built-in form.
import { Worker } from 'node:worker_threads';
import { pinThread } from '../engine/js/realtime.js';
import { XlaneError } from '../errors.js';

export interface TimingSample {
  core: number;
  /** Timed sleeps of `sleepUs` with 1 ns timer slack: how late they ended (µs). */
  sleepUs: number;
  sleeps: number;
  wakeLateUs: { p50: number; p99: number; max: number };
  /** Clock reads back to back for `spinMs`: gaps longer than GAP_THRESHOLD_US. */
  spinMs: number;
  gapsPerSec: number;
  /** Gaps of 20 µs or more, per second: each one a boundary a 100 µs lane can miss. */
  longGapsPerSec: number;
  /** Share of the spinning time lost in gaps. */
  lostShare: number;
  longestGapUs: number;
  /** Whether the thread was on the lane core (taskset); false: wherever the kernel put it. */
  pinned: boolean;
}

export const GAP_THRESHOLD_US = 3;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
// performance.now() allocates nothing (hrtime.bigint() would: its GC pauses would count as gaps).
const now = () => performance.now() * 1e6;
let tid = 0;
try { tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop()); fs.writeFileSync('/proc/' + tid + '/timerslack_ns', '1'); } catch {}
parentPort.postMessage({ tid });
parentPort.once('message', () => {
  const { sleeps, sleepUs, spinMs, thresholdUs } = workerData;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const late = new Float64Array(sleeps);
  for (let i = 0; i < sleeps; i++) {
    const t = now();
    Atomics.wait(cell, 0, 0, sleepUs / 1000);
    late[i] = (now() - t) / 1000 - sleepUs;
  }
  const end = now() + spinMs * 1e6;
  let prev = now(), gaps = 0, longGaps = 0, lost = 0, longest = 0;
  while (prev < end) {
    const t = now(), g = (t - prev) / 1000;
    if (g > thresholdUs) { gaps++; lost += g; if (g >= 20) longGaps++; if (g > longest) longest = g; }
    prev = t;
  }
  parentPort.postMessage({ late, gaps, longGaps, lost, longest });
});
`;

/** Measures on `core` (best effort: unpinned if taskset refuses), bounded: `sleeps` sleeps of
 * `sleepUs`, then `spinMs` of spinning. */
export async function measureTiming(
  core: number,
  o: { sleeps?: number; sleepUs?: number; spinMs?: number } = {},
): Promise<TimingSample> {
  const sleeps = o.sleeps ?? 2000;
  const sleepUs = o.sleepUs ?? 100;
  const spinMs = o.spinMs ?? 500;
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { sleeps, sleepUs, spinMs, thresholdUs: GAP_THRESHOLD_US },
  });
  try {
    const { tid } = await next<{ tid: number }>(worker);
    const pinned = tid > 0 && pinThread(tid, core) === undefined;
    worker.postMessage('go');
    const r = await next<{
      late: Float64Array;
      gaps: number;
      longGaps: number;
      lost: number;
      longest: number;
    }>(worker);
    const late = Array.from(r.late).sort((a, b) => a - b);
    const at = (q: number) => Math.max(0, late[Math.min(late.length - 1, Math.floor(q * late.length))]!);
    const secs = spinMs / 1000;
    return {
      core,
      sleepUs,
      sleeps,
      wakeLateUs: { p50: round(at(0.5)), p99: round(at(0.99)), max: round(Math.max(0, late.at(-1)!)) },
      spinMs,
      gapsPerSec: Math.round(r.gaps / secs),
      longGapsPerSec: Math.round(r.longGaps / secs),
      lostShare: Math.round((r.lost / 1000 / spinMs) * 10_000) / 10_000,
      longestGapUs: round(r.longest),
      pinned,
    };
  } finally {
    await worker.terminate();
  }
}

function next<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const fail = (e: unknown) =>
      reject(
        new XlaneError(
          'XL_ERR_INTERNAL',
          `timing probe failed: ${e instanceof Error ? e.message : String(e)}`,
        ),
      );
    worker.once('message', (m: T) => {
      worker.off('error', fail);
      resolve(m);
    });
    worker.once('error', fail);
  });
}

const round = (us: number) => Math.round(us * 10) / 10;
