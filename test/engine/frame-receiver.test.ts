import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReceiver } from '../../src/engine/receive/frame-receiver.js';
import { DROP_REASONS } from '../../src/engine/types.js';
import { FrameEncoder } from '../../src/engine/wire/encode.js';
import { ClockKind, MAX_DATAGRAM_BYTES, SubType } from '../../src/engine/wire/format.js';
import { encodeFrame, RECEIVER_L1 as SPEC } from './helpers.js';

function rx(): { r: FrameReceiver; seqs: number[] } {
  const r = new FrameReceiver(ClockKind.MONOTONIC);
  r.table.set(SPEC);
  const seqs: number[] = [];
  r.onDelivery((d) => seqs.push(d.seq));
  return { r, seqs };
}

const frame = (
  seq: number,
  over: { epoch?: number; wireId?: number; sentNs?: number; bytes?: number } = {},
) =>
  encodeFrame(
    { wireId: over.wireId ?? 1, epoch: over.epoch ?? 5, seq, sentNs: over.sentNs ?? 0 },
    Buffer.alloc(over.bytes ?? 4),
  );

describe('frame receiver (decode + lane table)', () => {
  it('checks who sent a frame before what it says', () => {
    const { r } = rx();
    // A stranger's frame with a stale epoch is counted as wrongSender, once.
    expect(r.receive(frame(0, { epoch: 1 }), '10.0.0.9', 0)).toBe('wrongSender');
    expect(r.receive(frame(0, { epoch: 1 }), '10.0.0.1', 0)).toBe('staleEpoch');
    expect(r.receive(frame(0, { wireId: 2 }), '10.0.0.1', 0)).toBe('unknownLane');
  });

  it('holds the current epoch to the lane σ_max and a newer epoch only to the frame limit', () => {
    const { r, seqs } = rx();
    expect(r.receive(frame(0, { bytes: 17 }), '10.0.0.1', 0)).toBe('oversize');
    expect(r.receive(frame(0, { bytes: 16 }), '10.0.0.1', 0)).toBeNull();
    expect(r.receive(frame(1, { epoch: 6, bytes: 400 }), '10.0.0.1', 0)).toBeNull();
    expect(seqs).toEqual([0, 1]);
  });

  it('accepts frames of the previous grant still in flight after a change, under its size limit', () => {
    const { r, seqs } = rx();
    r.table.set({ ...SPEC, epoch: 6, maxPayloadBytes: 8 });
    // The sender has not switched yet: epoch-5 frames are legitimate under the old σ_max (16).
    expect(r.receive(frame(0, { epoch: 5, bytes: 16 }), '10.0.0.1', 0)).toBeNull();
    expect(r.receive(frame(1, { epoch: 5, bytes: 17 }), '10.0.0.1', 0)).toBe('oversize');
    expect(r.receive(frame(2, { epoch: 6, bytes: 9 }), '10.0.0.1', 0)).toBe('oversize');
    expect(r.receive(frame(3, { epoch: 6, bytes: 8 }), '10.0.0.1', 0)).toBeNull();
    // Two grants back is stale.
    r.table.set({ ...SPEC, epoch: 7, maxPayloadBytes: 8 });
    expect(r.receive(frame(4, { epoch: 5, bytes: 4 }), '10.0.0.1', 0)).toBe('staleEpoch');
    expect(seqs).toEqual([0, 3]);
  });

  it('keeps the sequence window and counters across a grant change', () => {
    const { r } = rx();
    expect(r.receive(frame(0), '10.0.0.1', 0)).toBeNull();
    r.table.set({ ...SPEC, epoch: 6 });
    expect(r.receive(frame(0, { epoch: 6 }), '10.0.0.1', 0)).toBe('duplicate');
    expect(r.receive(frame(1, { epoch: 6 }), '10.0.0.1', 0)).toBeNull();
    expect(r.table.snapshot(r.table.get('L1')!)).toMatchObject({ received: 2, lost: 0 });
  });

  it('accepts a heartbeat-only frame without delivering it', () => {
    const { r, seqs } = rx();
    const enc = new FrameEncoder(Buffer.alloc(MAX_DATAGRAM_BYTES));
    enc.start({ wireId: 1, epoch: 5, seq: 0, sentNs: 0, clock: ClockKind.MONOTONIC });
    enc.append(SubType.HEARTBEAT, Buffer.from([0, 0, 0, 7, 0, 0, 0, 0]));
    expect(r.receive(enc.buf.subarray(0, enc.finish()), '10.0.0.1', 0)).toBeNull();
    expect(seqs).toEqual([]);
    expect(r.receive(frame(0), '10.0.0.1', 0)).toBe('duplicate');
  });

  it('classifies latency against [λ_min, λ_max] on the shared clock only', () => {
    const { r } = rx();
    r.receive(frame(0, { sentNs: 1_000_000 }), '10.0.0.1', 1_000_500); // 500 ns: early
    r.receive(frame(1, { sentNs: 1_000_000 }), '10.0.0.1', 1_005_000); // 5 µs: inside
    r.receive(frame(2, { sentNs: 1_000_000 }), '10.0.0.1', 1_020_000); // 20 µs: late
    const realtime = frame(3, { sentNs: 1 });
    realtime[3] = ClockKind.REALTIME; // another clock: delivered, not measured
    expect(r.receive(realtime, '10.0.0.1', 9e15)).toBeNull();
    expect(r.table.snapshot(r.table.get('L1')!)).toMatchObject({
      received: 4,
      early: 1,
      late: 1,
      latency: { count: 3, sumNs: 25_500, minNs: 500, maxNs: 20_000 },
    });
  });

  it('counts every datagram exactly once: delivered, or dropped under one reason', () => {
    const datagram = fc.oneof(
      fc.uint8Array({ maxLength: 1600 }),
      fc
        .record({
          seq: fc.integer({ min: 0, max: 200 }),
          epoch: fc.integer({ min: 3, max: 7 }),
          wireId: fc.constantFrom(1, 2),
          bytes: fc.integer({ min: 0, max: 40 }),
          flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }))),
        })
        .map(({ flip, ...f }) => {
          const b = frame(f.seq, f);
          if (flip) b[flip[0] % b.length] = flip[1];
          return b;
        }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(datagram, fc.constantFrom('10.0.0.1', '10.0.0.2')), { maxLength: 200 }),
        (msgs) => {
          const { r, seqs } = rx();
          let accepted = 0;
          for (const [bytes, from] of msgs) if (r.receive(bytes, from, 0) === null) accepted++;
          const dropped = DROP_REASONS.reduce((s, k) => s + r.dropped[k], 0);
          expect(dropped + accepted).toBe(msgs.length);
          expect(r.table.snapshot(r.table.get('L1')!).received).toBe(accepted);
          expect(seqs.length).toBeLessThanOrEqual(accepted); // frames without DATA are not delivered
          expect(new Set(seqs).size).toBe(seqs.length); // never delivers a sequence number twice
        },
      ),
    );
  });
});
