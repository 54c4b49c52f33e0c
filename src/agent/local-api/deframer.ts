// Splits a byte stream into length-prefixed frames. Pure (no socket): the server and the client
// feed it chunks, and the fuzz tests feed it arbitrary bytes. A frame announced larger than the
// limit is reported once and the stream is poisoned, because after it the byte boundaries can no
// longer be trusted: the owner answers with an error and closes the connection.
import { LENGTH_BYTES } from './frames.js';

export type DeframeResult =
  | { kind: 'frame'; body: Uint8Array }
  | { kind: 'oversize'; announced: number }
  | { kind: 'empty' };

export class Deframer {
  private buf: Buffer = Buffer.alloc(0);
  private poisoned = false;

  constructor(private readonly maxFrameBytes: number) {}

  /** Appends a chunk and calls `emit` for each complete frame (the body view is valid only during the call). */
  push(chunk: Buffer, emit: (r: DeframeResult) => void): void {
    if (this.poisoned) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    while (this.buf.length - off >= LENGTH_BYTES) {
      const len = this.buf.readUInt32BE(off);
      if (len > this.maxFrameBytes) {
        this.poisoned = true;
        this.buf = Buffer.alloc(0);
        emit({ kind: 'oversize', announced: len });
        return;
      }
      if (this.buf.length - off - LENGTH_BYTES < len) break;
      const start = off + LENGTH_BYTES;
      off = start + len;
      emit(len === 0 ? { kind: 'empty' } : { kind: 'frame', body: this.buf.subarray(start, off) });
      if (this.poisoned) return;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }

  /** Bytes of an incomplete frame still waiting for the rest (a truncated stream, at its end). */
  get pending(): number {
    return this.buf.length;
  }

  poison(): void {
    this.poisoned = true;
    this.buf = Buffer.alloc(0);
  }
}
