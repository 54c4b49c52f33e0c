// The xlane datagram layout, byte by byte (docs/protocol.md is the prose version of this file).
// Big-endian throughout. A datagram is one fixed header followed by 1..N sub-messages; the paper
// piggybacks protocol messages (heartbeats, grant hints) on the application's frame, so a lane
// never needs a second packet per period.
import { MAX_PAYLOAD_BYTES, XLANE_HEADER_BUDGET } from '../../alloc/wire.js';

/** 'X' 'L' */
export const MAGIC = 0x584c;
export const PROTOCOL_VERSION = 1;

export const HEADER_BYTES = 28;
export const SUB_HEADER_BYTES = 4;

/** Header offsets. */
export const OFF_MAGIC = 0; // u16
export const OFF_VERSION = 2; // u8
export const OFF_FLAGS = 3; // u8
export const OFF_LANE = 4; // u32 lane wire id
export const OFF_EPOCH = 8; // u32 allocation epoch
export const OFF_SEQ = 12; // u32 per-lane sequence, wraps (RFC 1982)
export const OFF_SENT_NS = 16; // u64 send timestamp, ns on the clock named in flags
export const OFF_SUB_COUNT = 24; // u8 number of sub-messages (>= 1)
export const OFF_RESERVED = 25; // 3 bytes, zero

/** Flags: bits 0-1 the clock kind; every other bit is reserved and must be zero in version 1. */
export const FLAG_CLOCK_MASK = 0x03;
export const FLAG_KNOWN_MASK = FLAG_CLOCK_MASK;

export const ClockKind = {
  /** CLOCK_MONOTONIC: shared by every network namespace of one machine (the testbed). */
  MONOTONIC: 0,
  /** CLOCK_REALTIME / PTP-disciplined: comparable across machines only as well as they are synced. */
  REALTIME: 1,
} as const;
export type ClockKind = (typeof ClockKind)[keyof typeof ClockKind];

/** Sub-message types. Types this version does not know are skipped, so later versions can add
 * optional piggybacked messages without a version bump; type 0 is invalid. */
export const SubType = {
  DATA: 1,
  HEARTBEAT: 2,
} as const;

/** HEARTBEAT body: incarnation (u32) + reserved (u32, zero) — the failure detector's liveness proof. */
export const HEARTBEAT_BODY_BYTES = 8;

/** The largest datagram: the header budget the controller charges plus the largest payload. */
export const MAX_DATAGRAM_BYTES = XLANE_HEADER_BUDGET + MAX_PAYLOAD_BYTES;
/** The smallest valid datagram: a header and one empty sub-message. */
export const MIN_DATAGRAM_BYTES = HEADER_BYTES + SUB_HEADER_BYTES;
/** Bytes of the budget left for piggybacked control sub-messages next to a full DATA message. */
export const PIGGYBACK_BYTES = XLANE_HEADER_BUDGET - HEADER_BYTES - SUB_HEADER_BYTES;

const TWO_32 = 0x1_0000_0000;

// Byte readers on a plain Uint8Array: the decoder runs per received packet and a DataView per
// datagram would be an allocation (dgram hands us a fresh Buffer every time).
export function readU16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) >>> 0) + ((b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!);
}

/** u64 from two u32 halves as a number: exact up to 2^53 ns (104 days of uptime). */
export function readU64(b: Uint8Array, off: number): number {
  return readU32(b, off) * TWO_32 + readU32(b, off + 4);
}

export function writeU64(view: DataView, off: number, value: number): void {
  view.setUint32(off, Math.floor(value / TWO_32));
  view.setUint32(off + 4, value % TWO_32);
}
