// The suspicion rows a bench-fd peer collects (SUSPICION_ROW in fd-peer-protocol.ts): a growable
// Float64Array, so a run with millions of baseline suspicions allocates only when it doubles, and
// travels as one binary file instead of JSON.
import { SUSPICION_ROW } from './fd-peer-protocol.js';

const W = SUSPICION_ROW.width;

export class SuspicionRows {
  private data = new Float64Array(1024 * W);
  rows = 0;

  push(
    kind: number,
    member: number,
    startNs: number,
    endNs: number,
    lastArrivalNs: number,
    lastSentNs = Number.NaN,
    endSentNs = Number.NaN,
    endArrivalNs = Number.NaN,
  ): void {
    if ((this.rows + 1) * W > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const o = this.rows * W;
    this.data[o + SUSPICION_ROW.kind] = kind;
    this.data[o + SUSPICION_ROW.member] = member;
    this.data[o + SUSPICION_ROW.startNs] = startNs;
    this.data[o + SUSPICION_ROW.endNs] = endNs;
    this.data[o + SUSPICION_ROW.lastArrivalNs] = lastArrivalNs;
    this.data[o + SUSPICION_ROW.lastSentNs] = lastSentNs;
    this.data[o + SUSPICION_ROW.endSentNs] = endSentNs;
    this.data[o + SUSPICION_ROW.endArrivalNs] = endArrivalNs;
    this.rows++;
  }

  /** The rows so far as bytes (a copy), and an empty table. */
  take(): Buffer {
    const out = Buffer.from(this.data.buffer, 0, this.rows * W * 8);
    const copy = Buffer.alloc(out.length);
    out.copy(copy);
    this.rows = 0;
    return copy;
  }
}

export interface SuspicionRow {
  kind: number;
  member: number;
  startNs: number;
  /** −1: still running at a final collect. */
  endNs: number;
  lastArrivalNs: number;
  /** NaN where unknown (see SUSPICION_ROW). */
  lastSentNs: number;
  endSentNs: number;
  endArrivalNs: number;
}

/** Rows of a collect file. */
export function readRows(bytes: Uint8Array): SuspicionRow[] {
  const n = Math.floor(bytes.byteLength / (W * 8));
  const f = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * W * 8));
  const out: SuspicionRow[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * W;
    out.push({
      kind: f[o + SUSPICION_ROW.kind]!,
      member: f[o + SUSPICION_ROW.member]!,
      startNs: f[o + SUSPICION_ROW.startNs]!,
      endNs: f[o + SUSPICION_ROW.endNs]!,
      lastArrivalNs: f[o + SUSPICION_ROW.lastArrivalNs]!,
      lastSentNs: f[o + SUSPICION_ROW.lastSentNs]!,
      endSentNs: f[o + SUSPICION_ROW.endSentNs]!,
      endArrivalNs: f[o + SUSPICION_ROW.endArrivalNs]!,
    });
  }
  return out;
}
