// Byte accounting of one express frame. The controller charges every lane for its worst-case
// frame on the wire, so these constants are part of the guarantee.
import { ETHERNET_WIRE_OVERHEAD } from '../topology/spec.js';

/** Largest payload of one lane message: with the header budget it fills a 1500-byte IP packet. */
export const MAX_PAYLOAD_BYTES = 1418;
/** Bytes reserved for the xlane header and sub-message framing in every datagram. */
export const XLANE_HEADER_BUDGET = 54;
export const UDP_HEADER = 8;
export const IPV4_HEADER = 20;

/** Bytes one frame carrying `payload` bytes of lane data occupies on an Ethernet wire. */
export function wireBytes(payload: number): number {
  return payload + XLANE_HEADER_BUDGET + UDP_HEADER + IPV4_HEADER + ETHERNET_WIRE_OVERHEAD;
}

/** The smallest express frame (no payload): used for the lower end λ_min of the window. */
export const MIN_WIRE_BYTES = wireBytes(0);
