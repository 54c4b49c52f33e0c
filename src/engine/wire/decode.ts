// Frame decoder: validates a received datagram into ONE reused result object and answers with the
// reason it is dropped, or null. It never throws on input bytes and never allocates, because it
// runs once per received packet. Lane-level checks (unknown lane, epoch, sender, sequence) need the
// receiver's lane table and live in receive/lane-table.ts.
import type { DropReason } from '../types.js';
import {
  FLAG_CLOCK_MASK,
  FLAG_KNOWN_MASK,
  HEADER_BYTES,
  HEARTBEAT_BODY_BYTES,
  MAGIC,
  MAX_DATAGRAM_BYTES,
  MIN_DATAGRAM_BYTES,
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
  readU16,
  readU32,
  readU64,
  SUB_HEADER_BYTES,
  SubType,
} from './format.js';

export interface DecodedFrame {
  wireId: number;
  epoch: number;
  seq: number;
  sentNs: number;
  clock: number;
  subCount: number;
  /** Offset and length of the DATA body inside the datagram; -1 when the frame carries none. */
  dataOffset: number;
  dataLength: number;
  /** Incarnation of a piggybacked HEARTBEAT; -1 when none. */
  heartbeat: number;
  /** Sub-messages of types this version does not know (skipped). */
  unknownSubs: number;
}

export function emptyDecodedFrame(): DecodedFrame {
  return {
    wireId: 0,
    epoch: 0,
    seq: 0,
    sentNs: 0,
    clock: 0,
    subCount: 0,
    dataOffset: -1,
    dataLength: 0,
    heartbeat: -1,
    unknownSubs: 0,
  };
}

export class FrameDecoder {
  readonly frame: DecodedFrame = emptyDecodedFrame();

  /** Decodes `buf` (the whole datagram). Returns null when valid (see `frame`), else the drop reason. */
  decode(b: Uint8Array): DropReason | null {
    const len = b.byteLength;
    if (len < MIN_DATAGRAM_BYTES) return 'short';
    if (len > MAX_DATAGRAM_BYTES) return 'oversize';
    // A wrong magic and a wrong version mean the same thing to us: not a protocol we speak.
    if (readU16(b, OFF_MAGIC) !== MAGIC || b[OFF_VERSION]! !== PROTOCOL_VERSION) return 'version';
    const flags = b[OFF_FLAGS]!;
    if ((flags & ~FLAG_KNOWN_MASK) !== 0 || (flags & FLAG_CLOCK_MASK) > 1) return 'malformed';
    const count = b[OFF_SUB_COUNT]!;
    if (count === 0) return 'malformed';
    if (b[OFF_RESERVED]! !== 0 || readU16(b, OFF_RESERVED + 1) !== 0) return 'malformed';

    const f = this.frame;
    f.dataOffset = -1;
    f.dataLength = 0;
    f.heartbeat = -1;
    f.unknownSubs = 0;
    let pos = HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      if (pos + SUB_HEADER_BYTES > len) return 'malformed';
      const type = b[pos]!;
      const bodyLen = readU16(b, pos + 2);
      const body = pos + SUB_HEADER_BYTES;
      if (type === 0 || b[pos + 1]! !== 0 || body + bodyLen > len) return 'malformed';
      if (type === SubType.DATA) {
        if (f.dataOffset >= 0) return 'malformed';
        f.dataOffset = body;
        f.dataLength = bodyLen;
      } else if (type === SubType.HEARTBEAT) {
        if (bodyLen !== HEARTBEAT_BODY_BYTES || f.heartbeat >= 0 || readU32(b, body + 4) !== 0)
          return 'malformed';
        f.heartbeat = readU32(b, body);
      } else {
        f.unknownSubs++;
      }
      pos = body + bodyLen;
    }
    // Sub-messages must account for every byte: trailing garbage means a framing error somewhere.
    if (pos !== len) return 'malformed';

    f.wireId = readU32(b, OFF_LANE);
    f.epoch = readU32(b, OFF_EPOCH);
    f.seq = readU32(b, OFF_SEQ);
    f.sentNs = readU64(b, OFF_SENT_NS);
    f.clock = flags & FLAG_CLOCK_MASK;
    f.subCount = count;
    return null;
  }
}
