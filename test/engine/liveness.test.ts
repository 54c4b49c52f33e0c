// The liveness rules without a clock or a socket: the receiver's state machine (receive/liveness.ts
// through FrameReceiver), the js engine's worker-side watchdog, and the HEARTBEAT encoding.
import { describe, expect, it } from 'vitest';
import { ArrivalBoard, Watchdog } from '../../src/engine/js/watchdog.js';
import { FrameReceiver } from '../../src/engine/receive/frame-receiver.js';
import type { DeliveryView, LivenessEvent, ReceiverSpec } from '../../src/engine/types.js';
import { FrameDecoder } from '../../src/engine/wire/decode.js';
import { ClockKind } from '../../src/engine/wire/format.js';
import { encodeFrame, encodeHeartbeatFrame } from './helpers.js';

const MS = 1_000_000;
const SRC = '10.0.0.1';

function spec(heartbeat?: ReceiverSpec['heartbeat']): ReceiverSpec {
  return {
    laneId: 'L1',
    wireId: 1,
    epoch: 1,
    senderAddress: SRC,
    maxPayloadBytes: 16,
    lambdaMinNs: 0,
    lambdaMaxNs: 1e12,
    heartbeat,
  };
}

function setup(heartbeat: ReceiverSpec['heartbeat'], nowNs = 1000 * MS) {
  const r = new FrameReceiver(ClockKind.MONOTONIC);
  const lane = r.setLane(spec(heartbeat), nowNs);
  const events: LivenessEvent[] = [];
  const got: Pick<DeliveryView, 'seq' | 'heartbeat'>[] = [];
  r.onLiveness((e) => events.push({ ...e }));
  r.onDelivery((d) => got.push({ seq: d.seq, heartbeat: d.heartbeat }));
  const hb = (seq: number, inc: number, atNs: number) =>
    r.receive(encodeHeartbeatFrame({ wireId: 1, seq, sentNs: atNs - 5 }, inc), SRC, atNs);
  return { r, lane, events, got, hb };
}

describe('liveness state machine', () => {
  it('alive on the first frame, suspect once at the deadline, alive again on the next frame', () => {
    const { r, lane, events, hb } = setup({ timeoutNs: 10 * MS });
    hb(0, 1, 1001 * MS);
    expect(events).toEqual([
      {
        laneId: 'L1',
        state: 'alive',
        incarnation: 1,
        lastArrivalNs: 1001 * MS,
        lastSentNs: 1001 * MS - 5,
        atNs: 1001 * MS,
      },
    ]);
    hb(1, 1, 1005 * MS); // in time: no event
    expect(r.expire(lane, 1014 * MS)).toBe(false); // before 1005 + 10
    expect(r.expire(lane, 1015 * MS)).toBe(true);
    expect(r.expire(lane, 1020 * MS)).toBe(false); // one suspicion per silence
    hb(2, 1, 1030 * MS);
    expect(events.map((e) => [e.state, e.atNs, e.lastArrivalNs])).toEqual([
      ['alive', 1001 * MS, 1001 * MS],
      ['suspect', 1015 * MS, 1005 * MS],
      ['alive', 1030 * MS, 1030 * MS],
    ]);
  });

  it('a watchdog report that raced with a frame is ignored', () => {
    const { r, lane, events, hb } = setup({ timeoutNs: 10 * MS });
    hb(0, 1, 1001 * MS);
    // Arrived just before the old deadline (1011), but was handled after the watchdog fired.
    hb(1, 1, 1011 * MS - 1);
    expect(r.expire(lane, 1011 * MS)).toBe(false);
    expect(events.map((e) => e.state)).toEqual(['alive']);
  });

  it('a frame past the deadline before the watchdog ran: suspect first, then alive', () => {
    const { events, hb } = setup({ timeoutNs: 10 * MS });
    hb(0, 1, 1001 * MS);
    hb(1, 1, 1012 * MS);
    expect(events.map((e) => [e.state, e.atNs, e.lastArrivalNs])).toEqual([
      ['alive', 1001 * MS, 1001 * MS],
      ['suspect', 1012 * MS, 1001 * MS],
      ['alive', 1012 * MS, 1012 * MS],
    ]);
  });

  it('a restarted sender whose first frame comes past the deadline: the suspicion names the old life', () => {
    const { events, hb } = setup({ timeoutNs: 10 * MS });
    hb(0, 4, 1001 * MS);
    hb(0, 5, 1020 * MS);
    expect(events.map((e) => [e.state, e.incarnation])).toEqual([
      ['alive', 4],
      ['suspect', 4],
      ['alive', 5],
    ]);
  });

  it('a lane that never sent is suspect timeoutNs after the watch started; a new incarnation is news', () => {
    const { r, lane, events, hb } = setup({ timeoutNs: 10 * MS }, 1000 * MS);
    expect(r.expire(lane, 1009 * MS)).toBe(false);
    expect(r.expire(lane, 1010 * MS)).toBe(true);
    hb(0, 4, 1050 * MS);
    hb(0, 5, 1051 * MS); // restarted between two heartbeats
    expect(events.map((e) => [e.state, e.incarnation, e.lastArrivalNs])).toEqual([
      ['suspect', -1, 0],
      ['alive', 4, 1050 * MS],
      ['alive', 5, 1051 * MS],
    ]);
  });

  it('a grant change keeps the state; a watch switched on later counts from then', () => {
    const { r, lane, events, hb } = setup(undefined, 1000 * MS);
    hb(0, 1, 1001 * MS);
    expect(events).toEqual([]); // not watched
    expect(r.expire(lane, 5000 * MS)).toBe(false);
    r.setLane(spec({ timeoutNs: 10 * MS }), 2000 * MS);
    expect(r.expire(lane, 2009 * MS)).toBe(false);
    expect(r.expire(lane, 2010 * MS)).toBe(true);
    r.setLane({ ...spec({ timeoutNs: 20 * MS }), epoch: 2 }, 2100 * MS);
    expect(r.expire(lane, 2200 * MS)).toBe(false); // still suspect: no second event
    expect(events.map((e) => e.state)).toEqual(['suspect']);
  });

  it('heartbeat-only frames are delivered only with deliver, and counted either way', () => {
    for (const deliver of [false, true]) {
      const { r, got, hb } = setup({ deliver });
      hb(0, 3, 1 * MS);
      r.receive(encodeFrame({ wireId: 1, seq: 1 }, Buffer.alloc(4)), SRC, 2 * MS);
      r.receive(encodeHeartbeatFrame({ wireId: 1, seq: 2 }, 3, Buffer.alloc(4)), SRC, 3 * MS);
      expect(got).toEqual([
        ...(deliver ? [{ seq: 0, heartbeat: 3 }] : []),
        { seq: 1, heartbeat: -1 },
        { seq: 2, heartbeat: 3 },
      ]);
      expect(r.table.snapshot(r.table.get('L1')!)).toMatchObject({ received: 3, heartbeats: 2 });
    }
  });
});

describe('js engine watchdog (pacing worker side)', () => {
  function board() {
    const seqs = new Int32Array(new SharedArrayBuffer(16));
    const times = new Float64Array(new SharedArrayBuffer(32));
    const reports: [number, number, number][] = [];
    const dog = new Watchdog(seqs, times, (slot, gen, atNs) => reports.push([slot, gen, atNs]));
    return { seqs, times, reports, dog, arrivals: new ArrivalBoard(seqs, times) };
  }

  it('reports a deadline once per silence and answers the next deadline ahead', () => {
    const { reports, dog, arrivals } = board();
    arrivals.publish(2, 100);
    dog.set(2, 7, 50);
    expect(dog.check(120)).toBe(150);
    expect(dog.check(150)).toBe(Number.POSITIVE_INFINITY);
    expect(dog.check(400)).toBe(Number.POSITIVE_INFINITY);
    expect(reports).toEqual([[2, 7, 150]]);
    arrivals.publish(2, 500); // a frame: watched again
    expect(dog.check(510)).toBe(550);
    dog.remove(2, 7);
    expect(dog.check(600)).toBe(Number.POSITIVE_INFINITY);
    expect(reports).toHaveLength(1);
  });

  it('never reports while the main thread is writing an arrival', () => {
    const { seqs, times, reports, dog } = board();
    dog.set(0, 1, 50);
    Atomics.add(seqs, 0, 1); // odd: writing
    times[0] = 0;
    expect(dog.check(1000)).toBe(1050);
    expect(reports).toEqual([]);
  });
});

describe('HEARTBEAT encoding', () => {
  it('round-trips alone and behind a DATA sub-message', () => {
    const d = new FrameDecoder();
    expect(d.decode(encodeHeartbeatFrame({ wireId: 9, seq: 4 }, 0xfffffffe))).toBeNull();
    expect(d.frame).toMatchObject({ wireId: 9, seq: 4, heartbeat: 0xfffffffe, dataOffset: -1, subCount: 1 });
    const withData = encodeHeartbeatFrame({ wireId: 9, seq: 5 }, 3, Buffer.from([1, 2]));
    expect(d.decode(withData)).toBeNull();
    expect(d.frame).toMatchObject({ heartbeat: 3, dataLength: 2, subCount: 2 });
    expect(withData.length).toBe(28 + 4 + 2 + 4 + 8);
  });
});
