// The calibration lane: from this host to itself, through its own engine. Frames are sent to the
// engine's own address and port, so they cross the host's send stack and its receive stack (socket,
// UDP/IP, the loopback device, the wake-up of the receiving thread) but no wire.
//
// Ids that cannot clash with the controller's lanes:
// - laneId "xlane:host-calibration": controller lane ids are "L<n>" (laneWireId), so the engine's
//   per-lane tables, keyed by that string, never hold another lane under this name;
// - wireId 0xFFFFFFFF (HOST_CALIBRATION_WIRE_ID): controller lanes carry n on the wire, counting up
//   from 1, and the controller refuses to hand out this one; a frame of another lane can therefore
//   never be counted as a calibration sample (nor the reverse).
// - srcPort 0: the kernel picks an ephemeral port, never one the allocator gives a lane.
import { EXPRESS_SOCKET_PRIORITY } from '../../alloc/grants.js';
import { HOST_CALIBRATION_WIRE_ID } from '../../controller/host-bounds.js';
import type { ReceiverSpec, SenderSpec } from '../../engine/types.js';

export const HOST_CALIBRATION_LANE_ID = 'xlane:host-calibration';
export { HOST_CALIBRATION_WIRE_ID };

/** The receiver accepts everything; the window only feeds the engine's late / early counters. */
const WIDE_WINDOW_NS = 1e9;

export interface CalibrationLaneOptions {
  /** The address the engine is bound to (0.0.0.0 → the loopback address). */
  bindAddress: string;
  /** The engine's own receive port (the topology's expressPort). */
  port: number;
  periodNs: number;
  payloadBytes: number;
  dscp: number;
}

/** Where calibration frames go: the engine's own address, or loopback when it listens on all. */
export function calibrationAddress(bindAddress: string): string {
  return bindAddress === '0.0.0.0' || bindAddress === '' ? '127.0.0.1' : bindAddress;
}

export function calibrationLaneSpecs(o: CalibrationLaneOptions): {
  sender: SenderSpec;
  receiver: ReceiverSpec;
} {
  const address = calibrationAddress(o.bindAddress);
  return {
    sender: {
      laneId: HOST_CALIBRATION_LANE_ID,
      wireId: HOST_CALIBRATION_WIRE_ID,
      epoch: 1,
      maxPayloadBytes: o.payloadBytes,
      minPeriodNs: o.periodNs,
      policy: 'coalesce',
      dscp: o.dscp,
      priority: EXPRESS_SOCKET_PRIORITY,
      srcPort: 0,
      destinations: [{ host: 'self', address, port: o.port }],
      // The engine's own clock releases a frame at every period: no application wake-up per frame.
      heartbeat: { incarnation: 1 },
    },
    receiver: {
      laneId: HOST_CALIBRATION_LANE_ID,
      wireId: HOST_CALIBRATION_WIRE_ID,
      epoch: 1,
      senderAddress: address,
      maxPayloadBytes: o.payloadBytes,
      lambdaMinNs: 0,
      lambdaMaxNs: WIDE_WINDOW_NS,
      heartbeat: { deliver: true },
    },
  };
}
