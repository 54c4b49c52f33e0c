// Frame encoder: writes into a caller-provided, reused buffer, so the sending hot path never
// allocates. The engine builds the frame once when a message is queued and stamps the sequence,
// epoch and send time right before the datagram leaves (stamp()).
import {
  HEADER_BYTES,
  HEARTBEAT_BODY_BYTES,
  MAGIC,
  MAX_DATAGRAM_BYTES,
  OFF_EPOCH,
  OFF_FLAGS,
  OFF_LANE,
  OFF_MAGIC,
  OFF_RESERVED,
  OFF_SENT_NS,
  OFF_SEQ,
  OFF_SUB_COUNT,
  OFF_VERSION,
  PROTOCOL_VERSION,
  SUB_HEADER_BYTES,
  SubType,
  writeU64,
} from './format.js';

export interface FrameHeader {
  wireId: number;
  epoch: number;
  seq: number;
  sentNs: number;
  clock: number;
}

export class FrameEncoder {
  readonly buf: Uint8Array;
  private readonly view: DataView;
  private pos = 0;
  private count = 0;

  constructor(buf: Uint8Array) {
    if (buf.byteLength < MAX_DATAGRAM_BYTES)
      throw new RangeError(`encode buffer < ${MAX_DATAGRAM_BYTES} bytes`);
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Starts a frame: writes the header with zero sub-messages. */
  start(h: FrameHeader): void {
    const v = this.view;
    v.setUint16(OFF_MAGIC, MAGIC);
    v.setUint8(OFF_VERSION, PROTOCOL_VERSION);
    v.setUint8(OFF_FLAGS, h.clock & 0x03);
    v.setUint32(OFF_LANE, h.wireId >>> 0);
    this.stamp(h.epoch, h.seq, h.sentNs);
    v.setUint8(OFF_SUB_COUNT, 0);
    v.setUint8(OFF_RESERVED, 0);
    v.setUint16(OFF_RESERVED + 1, 0);
    this.pos = HEADER_BYTES;
    this.count = 0;
  }

  /** Reserves a sub-message of `length` body bytes and returns the body's offset, so a caller can
   * copy a payload straight into place; -1 if it does not fit in one datagram. */
  reserve(type: number, length: number): number {
    const body = this.pos + SUB_HEADER_BYTES;
    if (this.count === 255 || length < 0 || body + length > MAX_DATAGRAM_BYTES) return -1;
    const v = this.view;
    v.setUint8(this.pos, type);
    v.setUint8(this.pos + 1, 0);
    v.setUint16(this.pos + 2, length);
    this.pos = body + length;
    this.count++;
    return body;
  }

  /** Appends a sub-message; false if it does not fit. */
  append(type: number, body: Uint8Array): boolean {
    const at = this.reserve(type, body.byteLength);
    if (at < 0) return false;
    this.buf.set(body, at);
    return true;
  }

  /** Appends a HEARTBEAT sub-message (incarnation, reserved zero); false if it does not fit. */
  appendHeartbeat(incarnation: number): boolean {
    const at = this.reserve(SubType.HEARTBEAT, HEARTBEAT_BODY_BYTES);
    if (at < 0) return false;
    this.view.setUint32(at, incarnation >>> 0);
    this.view.setUint32(at + 4, 0);
    return true;
  }

  /** Finishes the frame and returns its length in bytes. */
  finish(): number {
    this.view.setUint8(OFF_SUB_COUNT, this.count);
    return this.pos;
  }

  /** Rewrites the fields that are only known at release time. */
  stamp(epoch: number, seq: number, sentNs: number): void {
    this.view.setUint32(OFF_EPOCH, epoch >>> 0);
    this.view.setUint32(OFF_SEQ, seq >>> 0);
    writeU64(this.view, OFF_SENT_NS, sentNs);
  }
}
