// Per-lane sequence bookkeeping on the receiver: a 64-entry bitmap behind the highest sequence seen
// tells a duplicate from a late (reordered) arrival, and counts the gaps that have not been filled.
// Two u32 words instead of a BigInt keep it allocation-free.
import { seqDiff } from '../wire/serial.js';

export const SEQ_WINDOW = 64;

export type SeqVerdict = 'inOrder' | 'reordered' | 'duplicate' | 'old';

export class SeqWindow {
  private started = false;
  private top = 0;
  /** Bit k set ⇔ sequence top−k was received; lo holds k = 0..31, hi k = 32..63. */
  private lo = 0;
  private hi = 0;
  /** Sequence numbers skipped and not (yet) filled by a late arrival. */
  openGaps = 0;
  reordered = 0;

  accept(seq: number): SeqVerdict {
    if (!this.started) {
      this.started = true;
      this.top = seq >>> 0;
      this.lo = 1;
      this.hi = 0;
      return 'inOrder';
    }
    const d = seqDiff(seq, this.top);
    if (d > 0) {
      this.shift(d);
      this.lo |= 1;
      this.top = seq >>> 0;
      this.openGaps += d - 1;
      return 'inOrder';
    }
    if (d === 0) return 'duplicate';
    const k = -d;
    if (k >= SEQ_WINDOW) return 'old';
    if (this.has(k)) return 'duplicate';
    if (k < 32) this.lo |= 1 << k;
    else this.hi |= 1 << (k - 32);
    this.openGaps--;
    this.reordered++;
    return 'reordered';
  }

  /** Forgets the sequence position (the sender restarted and numbers from 0 again); the loss and
   * reordering counts of the previous life stay. */
  restart(): void {
    this.started = false;
  }

  private has(k: number): boolean {
    return k < 32 ? ((this.lo >>> k) & 1) === 1 : ((this.hi >>> (k - 32)) & 1) === 1;
  }

  private shift(d: number): void {
    if (d >= SEQ_WINDOW) {
      this.lo = 0;
      this.hi = 0;
    } else if (d >= 32) {
      this.hi = this.lo << (d - 32);
      this.lo = 0;
    } else {
      this.hi = (this.hi << d) | (this.lo >>> (32 - d));
      this.lo = this.lo << d;
    }
  }
}
