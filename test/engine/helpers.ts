// Shared test plumbing for engine tests: free loopback ports, polling for a condition, raw sockets
// that craft frames with the real encoder.
import dgram from 'node:dgram';
import type { ReceiverSpec, SenderSpec } from '../../src/engine/types.js';
import { FrameEncoder, type FrameHeader } from '../../src/engine/wire/encode.js';
import { ClockKind, MAX_DATAGRAM_BYTES, SubType } from '../../src/engine/wire/format.js';

export async function freeUdpPort(address = '127.0.0.1'): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, address, () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The receiving end of heartbeatSender: delivered, from loopback, a window nothing misses;
 * `timeoutNs` adds a liveness watch. */
export function heartbeatReceiver(
  o: { laneId?: string; wireId?: number; timeoutNs?: number } = {},
): ReceiverSpec {
  return {
    laneId: o.laneId ?? 'HB',
    wireId: o.wireId ?? 7,
    epoch: 1,
    senderAddress: '127.0.0.1',
    maxPayloadBytes: 0,
    lambdaMinNs: 0,
    lambdaMaxNs: 60e9,
    heartbeat: { deliver: true, ...(o.timeoutNs !== undefined ? { timeoutNs: o.timeoutNs } : {}) },
  };
}

/** A heartbeat lane (incarnation 1, no payload) to one loopback port. */
export function heartbeatSender(
  port: number,
  o: { laneId?: string; wireId?: number; periodNs?: number; dscp?: number } = {},
): SenderSpec {
  return {
    laneId: o.laneId ?? 'HB',
    wireId: o.wireId ?? 7,
    epoch: 1,
    maxPayloadBytes: 0,
    minPeriodNs: o.periodNs ?? 100_000,
    policy: 'coalesce',
    dscp: o.dscp ?? 0,
    priority: 0,
    srcPort: 0,
    destinations: [{ host: 'peer', address: '127.0.0.1', port }],
    heartbeat: { incarnation: 1 },
  };
}

/** Polls until `cond` holds; fails with `what` after `ms` (a liveness bound, not a speed claim). */
export async function waitFor(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export function encodeFrame(h: Partial<FrameHeader> & { wireId: number }, payload: Uint8Array): Buffer {
  const buf = Buffer.alloc(MAX_DATAGRAM_BYTES);
  const enc = new FrameEncoder(buf);
  enc.start({ epoch: 1, seq: 0, sentNs: 0, clock: ClockKind.MONOTONIC, ...h });
  enc.append(SubType.DATA, payload);
  return Buffer.from(buf.subarray(0, enc.finish()));
}

/** A frame with a HEARTBEAT(incarnation), and a DATA sub-message first when a payload is given. */
export function encodeHeartbeatFrame(
  h: Partial<FrameHeader> & { wireId: number },
  incarnation: number,
  payload?: Uint8Array,
): Buffer {
  const buf = Buffer.alloc(MAX_DATAGRAM_BYTES);
  const enc = new FrameEncoder(buf);
  enc.start({ epoch: 1, seq: 0, sentNs: 0, clock: ClockKind.MONOTONIC, ...h });
  if (payload) enc.append(SubType.DATA, payload);
  enc.appendHeartbeat(incarnation);
  return Buffer.from(buf.subarray(0, enc.finish()));
}

export class RawSender {
  private constructor(private readonly socket: dgram.Socket) {}

  static async open(address = '127.0.0.1'): Promise<RawSender> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, address, () => resolve());
    });
    return new RawSender(s);
  }

  send(bytes: Uint8Array, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(bytes, port, address, (e) => (e ? reject(e) : resolve())),
    );
  }

  port(): number {
    return this.socket.address().port;
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

/** A receiver of lane L1 (wire id 1, epoch 5) from 10.0.0.1: 16 B, window 1..10 µs. */
export const RECEIVER_L1: ReceiverSpec = {
  laneId: 'L1',
  wireId: 1,
  epoch: 5,
  senderAddress: '10.0.0.1',
  maxPayloadBytes: 16,
  lambdaMinNs: 1_000,
  lambdaMaxNs: 10_000,
};

/** Lane L1 looped back on 127.0.0.1 within one engine: its receiver (8 B, any latency) ... */
export const LOOPBACK_RECEIVER_L1: ReceiverSpec = {
  laneId: 'L1',
  wireId: 1,
  epoch: 1,
  senderAddress: '127.0.0.1',
  maxPayloadBytes: 8,
  lambdaMinNs: 0,
  lambdaMaxNs: 1e12,
};

/** ... and its sender to the engine's own `port` (every 100 µs, coalescing), with `over` applied. */
export function loopbackSenderL1(port: number, over: Partial<SenderSpec> = {}): SenderSpec {
  return {
    laneId: 'L1',
    wireId: 1,
    epoch: 1,
    maxPayloadBytes: 8,
    minPeriodNs: 100_000,
    policy: 'coalesce',
    dscp: 0,
    priority: 0,
    srcPort: 0,
    destinations: [{ host: 'self', address: '127.0.0.1', port }],
    ...over,
  };
}
