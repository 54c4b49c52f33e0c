// Runs the calibration lane (calibration-lane.ts) on a started engine for a bounded time and records
// every frame's one-way latency (DeliveryView.sentNs, stamped when the engine released the frame,
// to receivedNs). Statistics are statistics.ts's job.
//
// Frames at every period come from the engine's own heartbeat clock (SenderSpec.heartbeat): nothing
// runs in the application per frame, so the figure is the engine's and the host's, not the event
// loop's. Heartbeat-only frames are delivered (ReceiverSpec.heartbeat.deliver) to be measured.
import { MAX_PAYLOAD_BYTES } from '../../alloc/wire.js';
import { monotonicNs } from '../../engine/clock.js';
import { ringFullWaitsOf } from '../../engine/native/engine.js';
import type { DeliveryView, Engine } from '../../engine/types.js';
import { XlaneError } from '../../errors.js';
import { calibrationLaneSpecs, HOST_CALIBRATION_LANE_ID } from './calibration-lane.js';

export const DEFAULT_CALIBRATION_PERIOD_NS = 100_000;
export const DEFAULT_CALIBRATION_SECONDS = 2;
export const MAX_CALIBRATION_SECONDS = 30;
const MIN_PERIOD_NS = 10_000;
const MAX_PERIOD_NS = 1e9;
const DEFAULT_PAYLOAD_BYTES = 64;
/** After the last refill: time for the last frames to arrive before the lane is removed. */
const SETTLE_MS = 50;

export interface CalibrationOptions {
  /** Address the engine is bound to (0.0.0.0: frames go to 127.0.0.1) and its receive port. */
  bindAddress: string;
  port: number;
  periodNs?: number;
  seconds?: number;
  payloadBytes?: number;
  /** DSCP of the frames (the topology's expressDscp), as a lane's would carry. */
  dscp?: number;
}

export interface CalibrationRun {
  engine: Engine['kind'];
  periodNs: number;
  /** How long frames were sent (ns). */
  durationNs: number;
  payloadBytes: number;
  /** One-way latency of every received frame (ns), in arrival order; length = samples. */
  latenciesNs: Float64Array;
  /** Frames the engine sent, and those that never came back. */
  sent: number;
  lost: number;
  /** Native: receive passes that left the socket unread while the application had not drained the
   * delivery ring. Those frames waited in the socket, and the wait is in their latencies: a JS
   * thread that lost its CPU, not the host's network stack. Absent for the js engine. */
  ringFullWaits?: number;
}

/** Throws XL_ERR_VALIDATION for options out of range; engine errors propagate. The engine's delivery
 * handler is taken for the run: install yours afterwards. */
export async function runCalibration(engine: Engine, o: CalibrationOptions): Promise<CalibrationRun> {
  const periodNs = o.periodNs ?? DEFAULT_CALIBRATION_PERIOD_NS;
  const seconds = o.seconds ?? DEFAULT_CALIBRATION_SECONDS;
  const payloadBytes = o.payloadBytes ?? DEFAULT_PAYLOAD_BYTES;
  checkOptions(periodNs, seconds, payloadBytes);
  const { sender, receiver } = calibrationLaneSpecs({
    bindAddress: o.bindAddress,
    port: o.port,
    periodNs,
    payloadBytes,
    dscp: o.dscp ?? 46,
  });
  // The engine releases at most one frame per period: room for all of them, allocated once.
  const latencies = new Float64Array(Math.ceil((seconds * 1e9) / periodNs) + 1024);
  let count = 0;
  engine.onDelivery((d: DeliveryView) => {
    if (d.laneId !== HOST_CALIBRATION_LANE_ID) return;
    if (count < latencies.length) latencies[count++] = d.receivedNs - d.sentNs;
  });
  engine.setReceiver(receiver);
  let started = monotonicNs();
  let senderRemoved = false;
  const waitsBefore = ringFullWaitsOf(engine);
  try {
    engine.setSender(sender);
    started = monotonicNs();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const sent = engine.counters().lanes.find((l) => l.laneId === HOST_CALIBRATION_LANE_ID)?.sent ?? 0;
    engine.removeSender(HOST_CALIBRATION_LANE_ID);
    senderRemoved = true;
    const durationNs = monotonicNs() - started;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const waitsAfter = ringFullWaitsOf(engine);
    return {
      engine: engine.kind,
      periodNs,
      durationNs,
      payloadBytes,
      latenciesNs: latencies.slice(0, count),
      // Frames released between the counter read and the removal arrive too.
      sent: Math.max(sent, count),
      lost: Math.max(0, sent - count),
      ...(waitsBefore !== undefined && waitsAfter !== undefined
        ? { ringFullWaits: waitsAfter - waitsBefore }
        : {}),
    };
  } finally {
    if (!senderRemoved) engine.removeSender(HOST_CALIBRATION_LANE_ID);
    engine.removeReceiver(HOST_CALIBRATION_LANE_ID);
    engine.onDelivery(() => {});
  }
}

function checkOptions(periodNs: number, seconds: number, payloadBytes: number): void {
  const errors: string[] = [];
  if (!(seconds > 0 && seconds <= MAX_CALIBRATION_SECONDS))
    errors.push(`seconds must be in (0, ${MAX_CALIBRATION_SECONDS}], got ${seconds}`);
  if (!(periodNs >= MIN_PERIOD_NS && periodNs <= MAX_PERIOD_NS))
    errors.push(`periodNs must be in [${MIN_PERIOD_NS}, ${MAX_PERIOD_NS}], got ${periodNs}`);
  if (!(Number.isInteger(payloadBytes) && payloadBytes >= 1 && payloadBytes <= MAX_PAYLOAD_BYTES))
    errors.push(`payloadBytes must be 1..${MAX_PAYLOAD_BYTES}, got ${payloadBytes}`);
  if (errors.length > 0) {
    throw new XlaneError('XL_ERR_VALIDATION', `calibration: ${errors.join('; ')}`, {
      errors: errors.map((message) => ({ path: 'calibration', message })),
    });
  }
}
