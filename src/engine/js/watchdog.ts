// The js engine's liveness watchdog, run by the pacing worker: that thread already sleeps with a
// 1 ns timer slack and spins the last stretch before a boundary (its spin margin), so a lane's deadline is noticed
// within microseconds instead of the ~1 ms of a main-thread timer. The main thread, which receives,
// publishes each watched lane's last arrival here; the worker only notices deadlines and reports
// them with its own timestamp. The main thread owns the alive/suspect state and checks the report
// against its own record, so a frame that raced with the report is never suspected.
interface Watched {
  slot: number;
  gen: number;
  timeoutNs: number;
  /** The arrival sequence the worker reported a deadline for (-1: none): one report per silence. */
  reportedSeq: number;
}

export type DeadlineReport = (slot: number, gen: number, atNs: number) => void;

/** The main thread's side: a seqlock per slot (odd while writing) around the f64 arrival time. */
export class ArrivalBoard {
  constructor(
    private readonly seqs: Int32Array,
    private readonly times: Float64Array,
  ) {}

  publish(slot: number, baselineNs: number): void {
    Atomics.add(this.seqs, slot, 1);
    this.times[slot] = baselineNs;
    Atomics.add(this.seqs, slot, 1);
  }
}

export class Watchdog {
  private readonly watched: Watched[] = [];

  constructor(
    private readonly seqs: Int32Array,
    private readonly times: Float64Array,
    private readonly report: DeadlineReport,
  ) {}

  set(slot: number, gen: number, timeoutNs: number): void {
    const w = this.watched.find((x) => x.slot === slot);
    if (w && w.gen === gen) {
      w.timeoutNs = timeoutNs;
      return;
    }
    if (w) this.remove(slot, w.gen);
    this.watched.push({ slot, gen, timeoutNs, reportedSeq: -1 });
  }

  remove(slot: number, gen: number): void {
    const i = this.watched.findIndex((x) => x.slot === slot && x.gen === gen);
    if (i >= 0) this.watched.splice(i, 1);
  }

  /** Reports every deadline that has passed; returns the earliest one still ahead. */
  check(nowNs: number): number {
    let next = Number.POSITIVE_INFINITY;
    const list = this.watched;
    for (let i = 0; i < list.length; i++) {
      const w = list[i]!;
      const s1 = Atomics.load(this.seqs, w.slot);
      const arrival = this.times[w.slot]!;
      const s2 = Atomics.load(this.seqs, w.slot);
      if ((s1 & 1) === 1 || s1 !== s2) {
        // A frame is being recorded right now: the lane is alive; look again soon.
        if (nowNs + w.timeoutNs < next) next = nowNs + w.timeoutNs;
        continue;
      }
      if (w.reportedSeq === s1) continue;
      const deadline = arrival + w.timeoutNs;
      if (nowNs >= deadline) {
        w.reportedSeq = s1;
        this.report(w.slot, w.gen, nowNs);
      } else if (deadline < next) next = deadline;
    }
    return next;
  }
}
