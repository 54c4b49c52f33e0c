// The notes of an interference run: what the figures mean, said in words, for the record and the
// report. Pure text from the options and the analysed runs; no I/O.

import { cpus } from 'node:os';
import { DEFAULT_BOUNDS_POLICY } from '../agent/host-bounds/statistics.js';
import { SHARED_CPU_MAX_SPIN_US } from '../engine/spin-setting.js';
import { HTB_BURST_NS } from '../util/htb-burst.js';
import { DEFAULT_BACKUP_READ_US } from './backup-cores.js';
import type { InterferenceOptions } from './interference.js';
import { FIRST_OUTLIERS } from './interference-stats.js';
import { TARGETS } from './interference-targets.js';
import type {
  InterferenceMode,
  InterferenceRecord,
  InterferenceRunDetail,
  InterferenceRunSummary,
  LaneLatencySummary,
} from './interference-types.js';

const pct = (share: number) => `${(share * 100).toFixed(1)} %`;

export function notesFor(
  o: InterferenceOptions,
  runs: InterferenceRunDetail[],
  hostBounds: InterferenceRecord['hostBounds'],
): string[] {
  const notes = [
    `${cpus().length} CPUs shared by every emulated host, the bridge, the engines and iperf3: ` +
      'softirq work of the bulk flows competes with the lane engines for the same cores.',
    `engine ${o.engine}${o.engine === 'native' ? ` (${o.receive} receive, sleep-then-spin send with a learned margin of at most ${o.maxSpinUs ?? SHARED_CPU_MAX_SPIN_US} µs, ${o.fifoPriority !== undefined ? `SCHED_FIFO ${o.fifoPriority}` : 'SCHED_OTHER'}${o.backup ? `; ${o.receiver}'s engine pinned, with a backup thread on the other CPU that reads its socket when the engine thread left it unread ${o.backupReadUs ?? DEFAULT_BACKUP_READ_US} µs` : ''})` : " (frames DSCP-marked by an nftables rule on each sender, as the agent installs it: Node's dgram cannot set IP_TOS)"}, ` +
      `frames ${o.feed === 'heartbeat' ? "emitted by the engine's own heartbeat clock" : 'refilled by the application (coalesce)'}` +
      (o.appFifoPriority !== undefined
        ? `; the receiving application (which drains the engine's delivery ring) at SCHED_FIFO ${o.appFifoPriority}.`
        : '; the receiving application at SCHED_OTHER.'),
  ];
  notes.push(
    o.bulkCpu !== undefined
      ? `bulk flows' iperf3 processes pinned to CPU ${o.bulkCpu} (most of their softirq work runs there too).`
      : "bulk flows' iperf3 processes not pinned: the scheduler places them and their softirq work.",
    `every HTB class of the testbed banks ${(o.htbBurstNs ?? HTB_BURST_NS) / 1000} µs of link time (burst): a late HTB timer costs the bulk no more than that.`,
  );
  const cpu = runs
    .filter((r) => r.cpuShare && Number.isFinite(r.cpuShare.busy))
    .map((r) => `${r.mode} ${pct(r.cpuShare!.busy)} busy (${pct(r.cpuShare!.steal)} stolen)`);
  if (cpu.length > 0) notes.push(`CPU time of the machine while recording: ${cpu.join(', ')}.`);
  if (o.hostBounds === 'measure') {
    const p = { ...DEFAULT_BOUNDS_POLICY, ...o.boundsPolicy };
    const q = `p${Number((p.quantile * 100).toFixed(4))} × ${p.safetyFactor}`;
    notes.push(
      `host bounds measured on each host's engine before the runs (${o.calibrateSeconds} s loopback lane at the lanes' period, ` +
        `${p.keepObservedMax ? `max of the observed maximum and ${q}` : `${q}, even below the observed maximum`}, ` +
        `lower bound the observed minimum × ${p.minFactor}, ` +
        `split ${Math.round(p.sendShare * 100)} % send / ${Math.round((1 - p.sendShare) * 100)} % receive) and given to the controller.`,
    );
  }
  const starved = calibrationNote(hostBounds);
  if (starved) notes.push(starved);
  const byMode = new Map(runs.map((r) => [r.mode, r]));
  const idle = byMode.get('idle');
  const express = byMode.get('express');
  const fifo = byMode.get('fifo');
  for (const l of express?.lanes ?? []) {
    const i = idle?.lanes.find((x) => x.lane === l.lane);
    const f = fifo?.lanes.find((x) => x.lane === l.lane);
    const parts: string[] = [];
    if (i)
      parts.push(
        `express p99 = ${(l.p99Us / i.p99Us).toFixed(2)} × idle p99 (what the bulk costs the lane on shared CPUs)`,
      );
    if (f)
      parts.push(`fifo p99 = ${(f.p99Us / l.p99Us).toFixed(1)} × express p99 (what the express class buys)`);
    if (parts.length > 0) notes.push(`${l.name}: ${parts.join('; ')}.`);
  }
  for (const r of runs) {
    const lost = r.lanes.reduce((a, l) => a + l.lost, 0);
    if (lost > 0) notes.push(`${r.mode}: ${lost} frames lost.`);
  }
  for (const r of runs) {
    if (r.mode === 'fifo') continue; // no promise to keep there: the world without X-Lane
    for (const l of r.lanes) {
      const note = lateNote(r.mode, l);
      if (note) notes.push(note);
    }
    const e = r.receiverEngine;
    if (e && (e.ringFullWaits > 0 || e.backupReads > 0))
      notes.push(
        `${r.mode}: ${o.receiver}'s engine left its socket unread ${e.ringFullWaits} times because the ` +
          'receiving application had not drained its delivery ring (frames late in the receiver include these), ' +
          `and its backup thread read it ${e.backupReads} times.`,
      );
  }
  const slow = sendRateNote(runs);
  if (slow) notes.push(slow);
  const floor = tightnessFloorNote(runs);
  if (floor) notes.push(floor);
  const cut = outliersNote(runs);
  if (cut) notes.push(cut);
  return notes;
}

/** Below this share of its periods a lane's sender is called out: it was late at many boundaries. */
export const SLOW_SEND_RATE = 0.9;

/** The modes whose lanes used less than SLOW_SEND_RATE of their contract's periods, and why that
 * happens (the rule is engine/schedule.ts; what an operator can do is in docs/operations.md). */
export function sendRateNote(runs: readonly InterferenceRunSummary[]): string | undefined {
  const parts: string[] = [];
  for (const r of runs) {
    const rates = r.lanes
      .map((l) => l.sendRate)
      .filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (rates.length === 0) continue;
    const min = Math.min(...rates);
    if (min >= SLOW_SEND_RATE) continue;
    const lo = Math.round(min * 100);
    const hi = Math.round(Math.max(...rates) * 100);
    parts.push(`${r.mode} ${lo === hi ? lo : `${lo}–${hi}`} %`);
  }
  if (parts.length === 0) return undefined;
  return (
    `the lanes' senders used ${parts.join(', ')} of their contract's periods (sendRate): a frame released more than ` +
    "the grant's release jitter E late costs the lane the delay beyond E, and about one period more to walk back onto " +
    'its phase. The usual cause is timed wake-ups that end later than the spin margin plus E, or stalls (docs/operations.md, metrics).'
  );
}

/** Hosts whose calibration waited on their application (its delivery ring full): that wait is in
 * their measured bounds, and so in every λ_max through them. */
export function calibrationNote(hostBounds: InterferenceRecord['hostBounds']): string | undefined {
  const starved = (hostBounds ?? []).filter((h) => (h.calibrationRingFullWaits ?? 0) > 0);
  if (starved.length === 0) return undefined;
  return (
    `calibration: ${starved.map((h) => `${h.host}'s engine left its socket unread ${h.calibrationRingFullWaits} times`).join(', ')} ` +
    "because the host's application had not drained its delivery ring: the wait is in that host's measured bounds."
  );
}

/** Where a guarded lane's late messages lost their time (the receiving kernel's stamp tells). */
export function lateNote(mode: InterferenceMode, l: LaneLatencySummary): string | undefined {
  const c = l.outlierCauses;
  if (!c || c.late === 0) return undefined;
  const parts = [
    c.lateInReceiver > 0
      ? `${c.lateInReceiver} reached ${l.to}'s kernel within λ_max and were late in its host (softirq → engine → application)`
      : '',
    c.lateOnArrival > 0
      ? `${c.lateOnArrival} were already late on arrival (${l.from}'s host or the network)`
      : '',
    c.lateUnknown > 0 ? `${c.lateUnknown} without a kernel stamp (js engine)` : '',
  ].filter(Boolean);
  return `${mode} ${l.name}: ${c.late} messages over λ_max (${l.boundUs} µs): ${parts.join('; ')}.`;
}

/** What the two targets on the promise (≥ 99.99 % within, tightness ≤ 5) allowed together on these
 * runs: a λ_max below a lane's p99.99 breaks the first, one above 5 × p99.9 the second. */
export function tightnessFloorNote(runs: readonly InterferenceRunSummary[]): string | undefined {
  const lanes = runs
    .filter((r) => r.mode !== 'fifo')
    .flatMap((r) =>
      r.lanes
        .filter((l) => l.tightnessFloor !== undefined && Number.isFinite(l.tightnessFloor))
        .map((l) => ({ mode: r.mode, l })),
    );
  if (lanes.length === 0) return undefined;
  const over = lanes.filter(({ l }) => l.tightnessFloor! > TARGETS.tightness);
  const list = lanes
    .map(({ mode, l }) => `${mode} ${l.name} p99.99 ${l.p9999Us} µs = ${l.tightnessFloor} × p99.9`)
    .join('; ');
  return (
    `the tightest λ_max that keeps 99.99 % within is the lane's p99.99 (${list}): ` +
    (over.length === 0
      ? `a promise between p99.99 and ${TARGETS.tightness} × p99.9 would have met both targets on every lane.`
      : `${over.map(({ mode, l }) => `${mode} ${l.name}`).join(', ')} had p99.99 above ${TARGETS.tightness} × p99.9, so no promise could have met both targets there.`)
  );
}

/** The report draws `firstOutliers` as dots: without this, a fifo run's thousands of outliers would
 * look like the first 100. */
export function outliersNote(runs: InterferenceRunDetail[]): string | undefined {
  const cut = runs.flatMap((r) =>
    r.lanes
      .filter((l) => l.outliers > l.firstOutliers.length)
      .map((l) => `${r.mode} ${l.name} ${l.firstOutliers.length} of ${l.outliers}`),
  );
  if (cut.length === 0) return undefined;
  return (
    `outliers with their times: only the first ${FIRST_OUTLIERS} per lane and mode are kept and drawn ` +
    `(${cut.join('; ')}); the percentiles, the CDF and the fraction within the window count them all.`
  );
}
