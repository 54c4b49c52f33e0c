// How long a mode of the interference bench records, and the bulk rate over that recording. Pure:
// the runner feeds in the receiver's progress (messages per lane) and iperf3's intervals per flow.
import type { BulkSample } from './interference-types.js';

export interface RecordingLength {
  /** At least this long (s). */
  seconds: number;
  /** Then until every lane has this many messages (0: stop at `seconds`)… */
  minMessages: number;
  /** …but never longer than this (s). */
  maxSeconds: number;
}

/** Whether to go on recording, `elapsedSec` in, with the lanes' message counts so far. */
export function keepRecording(elapsedSec: number, counts: readonly number[], o: RecordingLength): boolean {
  if (elapsedSec < o.seconds) return true;
  if (elapsedSec >= o.maxSeconds || counts.length === 0) return false;
  return Math.min(...counts) < o.minMessages;
}

/** The recording's likely length, for a progress bar: `seconds`, or longer when the slowest lane's
 * rate so far will not reach minMessages by then (never past maxSeconds). */
export function expectedRecordingSec(
  elapsedSec: number,
  counts: readonly number[],
  o: RecordingLength,
): number {
  const fewest = counts.length > 0 ? Math.min(...counts) : 0;
  if (o.minMessages === 0 || elapsedSec <= 0 || fewest >= o.minMessages)
    return Math.max(o.seconds, elapsedSec);
  if (fewest === 0) return o.maxSeconds;
  const need = (elapsedSec * o.minMessages) / fewest;
  return Math.min(o.maxSeconds, Math.max(o.seconds, need));
}

/** One iperf3 interval of a flow: start and end (s, on the flow's clock) and its rate (bit/s). */
export interface RateInterval {
  startSec: number;
  endSec: number;
  bps: number;
}

/** The flows' rate over [fromSec, toSec] of their clock (Mbit/s): the bits they sent in it (each
 * interval's rate spread evenly over the interval) over the window's length. A flow that did not
 * run through the whole window adds only what it sent in it; partial intervals weigh by length. */
export function bulkMbpsIn(
  flows: readonly (readonly RateInterval[])[],
  fromSec: number,
  toSec: number,
): number {
  if (!(toSec > fromSec)) return 0;
  let bits = 0;
  for (const flow of flows)
    for (const i of flow)
      bits += i.bps * Math.max(0, Math.min(i.endSec, toSec) - Math.max(i.startSec, fromSec));
  return Math.round(bits / (toSec - fromSec) / 1e4) / 100;
}

/** The flows' summed rate, one point per `stepSec` on the recording's clock (the flows' clock less
 * `offsetSec`), each the rate over the step it ends (drawn step-before). The flows need not have
 * started together: their intervals are not summed point by point but over the same steps. */
export function bulkSeries(
  flows: readonly (readonly RateInterval[])[],
  offsetSec: number,
  stepSec: number,
): BulkSample[] {
  const all = flows.flat();
  if (all.length === 0) return [];
  const first = Math.min(...all.map((i) => i.startSec)) - offsetSec;
  const last = Math.max(...all.map((i) => i.endSec)) - offsetSec;
  const out: BulkSample[] = [];
  // Steps on whole multiples of stepSec; 1e-9 so float noise does not add a step.
  for (let k = Math.floor(first / stepSec + 1e-9) + 1; (k - 1) * stepSec < last - 1e-9; k++) {
    const t = Math.round(k * stepSec * 1e6) / 1e6;
    out.push({ tSec: t, mbps: bulkMbpsIn(flows, t - stepSec + offsetSec, t + offsetSec) });
  }
  return out;
}
