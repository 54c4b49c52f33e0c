// The local API's frame format, byte by byte (docs/client.md has the table). Every frame is
// u32 big-endian body length + body; the body starts with a 1-byte frame type. Control frames
// (requests, replies, events) carry JSON; the hot path (send, delivery) is binary so a message
// costs a few fixed-size fields and a payload copy, never a JSON encode.
import type { ErrorCode } from '../../errors.js';

export const LOCAL_API_VERSION = 1;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

export const FrameType = {
  /** client → agent: JSON {id, op, ...}. */
  Request: 0x01,
  /** agent → client: JSON {id, ok: true, result} | {id, ok: false, error: {code, message}}. */
  Reply: 0x02,
  /** agent → client: JSON {handle, event: LaneEvent}. */
  Event: 0x03,
  /** agent → client: JSON {sub, event: FdEvent} — a failure-detector group member changed state. */
  FdEvent: 0x04,
  /** client → agent, binary: u32 request id (0: reply only on error), u32 lane handle, payload. */
  Send: 0x10,
  /** agent → client, binary: u32 handle, f64 seq, f64 sentNs, f64 receivedNs, payload. */
  Delivery: 0x11,
  /** agent → client, binary: Delivery plus f64 kernelReceivedNs (0: unknown) before the payload;
   * sent instead of Delivery to a client whose hello asked for the 'kernelStamp' feature. */
  DeliveryStamped: 0x12,
} as const;

/** Optional parts of the protocol a client asks for in its hello; the agent answers with those it
 * grants. A v1 agent that predates a feature ignores the ask, so both sides stay compatible. */
export const LOCAL_API_FEATURES = ['kernelStamp'] as const;
export type LocalApiFeature = (typeof LOCAL_API_FEATURES)[number];

export const SEND_HEADER_BYTES = 1 + 4 + 4;
export const DELIVERY_HEADER_BYTES = 1 + 4 + 8 + 8 + 8;
export const DELIVERY_STAMPED_HEADER_BYTES = DELIVERY_HEADER_BYTES + 8;
export const LENGTH_BYTES = 4;

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export type ReplyBody =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: WireError };

/** A whole frame (length prefix included) whose body is `type` + JSON. */
export function encodeJsonFrame(type: number, value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  const out = Buffer.allocUnsafe(LENGTH_BYTES + 1 + json.length);
  out.writeUInt32BE(1 + json.length, 0);
  out[LENGTH_BYTES] = type;
  json.copy(out, LENGTH_BYTES + 1);
  return out;
}

export function encodeSendFrame(id: number, handle: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(LENGTH_BYTES + SEND_HEADER_BYTES + payload.length);
  out.writeUInt32BE(SEND_HEADER_BYTES + payload.length, 0);
  out[4] = FrameType.Send;
  out.writeUInt32BE(id, 5);
  out.writeUInt32BE(handle, 9);
  out.set(payload, 13);
  return out;
}

/** A Delivery frame, or with `kernelReceivedNs` given a DeliveryStamped one. */
export function encodeDeliveryFrame(
  handle: number,
  seq: number,
  sentNs: number,
  receivedNs: number,
  payload: Uint8Array,
  kernelReceivedNs?: number,
): Buffer {
  const stamped = kernelReceivedNs !== undefined;
  const header = stamped ? DELIVERY_STAMPED_HEADER_BYTES : DELIVERY_HEADER_BYTES;
  const out = Buffer.allocUnsafe(LENGTH_BYTES + header + payload.length);
  out.writeUInt32BE(header + payload.length, 0);
  out[4] = stamped ? FrameType.DeliveryStamped : FrameType.Delivery;
  out.writeUInt32BE(handle, 5);
  // f64 holds every value a DeliveryView's numbers can hold, bit for bit.
  out.writeDoubleBE(seq, 9);
  out.writeDoubleBE(sentNs, 17);
  out.writeDoubleBE(receivedNs, 25);
  if (stamped) out.writeDoubleBE(kernelReceivedNs, 33);
  out.set(payload, LENGTH_BYTES + header);
  return out;
}

/** Parses a control frame's JSON body (after the type byte); undefined if it is not a JSON object. */
export function parseJsonBody(body: Uint8Array): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body.buffer, body.byteOffset + 1, body.length - 1).toString('utf8'));
  } catch {
    return undefined;
  }
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
