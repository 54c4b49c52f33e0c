// The C receive path (native/wire.c xl_decode, then engine_rx.c admit) against the TypeScript one
// (wire/decode.ts + receive/lane-table.ts, through FrameReceiver), datagram by datagram over real
// UDP: random bytes, frames from the TS encoder, and mutations of those. Each datagram is sent only
// after the previous one was accounted for, so the counter that moved is that datagram's verdict in
// C — one drop reason, or accepted on a lane — and must be the TS verdict for the same bytes in the
// same lane state. The deliveries (lane, seq, heartbeat, payload) and the per-lane counters (seq
// window included) must match too, and a valid frame sent last must still be delivered.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LOCAL_CLOCK, monotonicNs } from '../../src/engine/clock.js';
import { FrameReceiver } from '../../src/engine/receive/frame-receiver.js';
import {
  type DeliveryView,
  DROP_REASONS,
  type EngineCounters,
  LANE_DROP_REASONS,
  type ReceiverSpec,
} from '../../src/engine/types.js';
import { FrameEncoder } from '../../src/engine/wire/encode.js';
import { MAX_DATAGRAM_BYTES, SubType } from '../../src/engine/wire/format.js';
import { encodeFrame, freeUdpPort, RawSender, waitFor } from './helpers.js';
import { nativeEngine, skipReason } from './native-helpers.js';

const LO = '127.0.0.1';
const spec = (
  laneId: string,
  wireId: number,
  epoch: number,
  maxPayloadBytes: number,
  from = LO,
): ReceiverSpec => ({
  laneId,
  wireId,
  epoch,
  senderAddress: from,
  maxPayloadBytes,
  lambdaMinNs: 0,
  lambdaMaxNs: 60e9,
  heartbeat: { deliver: true },
});
/** In this order: L1 changes grant (epoch 4, σ 32 → epoch 6, σ 16), so its previous epoch is
 * accepted under the previous σ; L2's sender is another host (wrongSender); L9 is kept clean for
 * the final frame (a wire id no random frame or one-byte mutation reaches). */
const LANES = [
  spec('L1', 1, 4, 32),
  spec('L1', 1, 6, 16),
  spec('L2', 2, 1, 16, '10.9.9.9'),
  spec('L9', 0x5a5a0009, 1, 16),
];

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const dataArb = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 20 }) }, // L1's σ: 16 now, 32 the epoch before
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 21, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1410, maxLength: 1440 }) }, // the frame limit
);
type Sub = { type: number; body: Uint8Array } | { incarnation: number };
const subArb: fc.Arbitrary<Sub> = fc.oneof(
  { weight: 2, arbitrary: dataArb.map((body) => ({ type: SubType.DATA, body })) },
  { weight: 2, arbitrary: fc.record({ incarnation: fc.oneof(fc.integer({ min: 0, max: 3 }), u32) }) },
  // Unknown types are skipped, type 0 is malformed.
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.integer({ min: 0, max: 255 }), body: fc.uint8Array({ maxLength: 12 }) }),
  },
);
/** Mostly what a sender could send (a DATA, maybe a HEARTBEAT), sometimes any list of subs. */
const subsArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.option(
          subArb.filter((x) => 'type' in x),
          { nil: undefined },
        ),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      )
      .map(([d, hb]) => [...(d ? [d] : []), ...(hb === undefined ? [] : [{ incarnation: hb }])]),
  },
  { weight: 1, arbitrary: fc.array(subArb, { maxLength: 3 }) },
);
const frameArb = fc.record({
  wireId: fc.oneof({ weight: 6, arbitrary: fc.constant(1) }, fc.constantFrom(2, 3), u32),
  // L1: 3 is stale, 4 the previous grant, 5 one it skipped, 6 the current one, 7 a newer one.
  epoch: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 3, max: 7 }) }, u32),
  seq: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 24 }) }, u32),
  sentNs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  clock: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 3 })),
  subs: subsArb, // none: malformed
});
type FrameInput = typeof frameArb extends fc.Arbitrary<infer T> ? T : never;

const encoder = new FrameEncoder(new Uint8Array(MAX_DATAGRAM_BYTES));
function encode(f: FrameInput): Uint8Array {
  encoder.start(f);
  for (const s of f.subs) {
    if ('incarnation' in s) encoder.appendHeartbeat(s.incarnation);
    else encoder.append(s.type, s.body); // one that does not fit is left out
  }
  return encoder.buf.slice(0, encoder.finish());
}

/** Where the decoder's checks are: the 28-byte header and first sub-header, the last sub-message
 * (negative: from the end; a HEARTBEAT is usually last), or anywhere. */
const at = fc.oneof(fc.integer({ min: 0, max: 35 }), fc.integer({ min: -12, max: -1 }), fc.nat());
const index = (at: number, length: number) => (at < 0 ? Math.max(0, length + at) : at % length);
const mutationArb = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('set' as const), at, value: fc.integer({ min: 0, max: 255 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('cut' as const), at }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('grow' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
    }),
  },
);
type Mutation = typeof mutationArb extends fc.Arbitrary<infer T> ? T : never;
function mutate(b: Uint8Array, ms: Mutation[]): Uint8Array {
  let out = b.slice();
  for (const m of ms) {
    if (m.op === 'grow') out = Uint8Array.from([...out, ...m.bytes]);
    else if (out.length === 0) continue;
    else if (m.op === 'cut') out = out.slice(0, index(m.at, out.length));
    else if (m.op === 'flip') out[index(m.at, out.length)]! ^= 1 << m.bit;
    else out[index(m.at, out.length)] = m.value;
  }
  return out;
}

const datagramArb = fc.oneof(
  { weight: 5, arbitrary: frameArb.map(encode) },
  {
    weight: 5,
    arbitrary: fc
      .tuple(frameArb, fc.array(mutationArb, { minLength: 1, maxLength: 2 }))
      .map(([f, ms]) => mutate(encode(f), ms)),
  },
  // Beyond the receive buffer (2048 B) too: the kernel truncates, the verdict must not change.
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2100 }) },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ minLength: 28, maxLength: 80 })
      .map((b) => Uint8Array.from([0x58, 0x4c, 1, ...b.subarray(3)])),
  },
);

const accounted = (c: EngineCounters) =>
  DROP_REASONS.reduce((s, r) => s + c.dropped[r], 0) + c.lanes.reduce((s, l) => s + l.received, 0);

/** Which counter one datagram moved: its drop reason, or the lane that accepted it. */
function verdictOf(before: EngineCounters, after: EngineCounters): string[] {
  const moved: string[] = DROP_REASONS.filter((r) => after.dropped[r] !== before.dropped[r]);
  for (const l of after.lanes)
    if (l.received !== before.lanes.find((b) => b.laneId === l.laneId)!.received)
      moved.push(`accepted ${l.laneId}`);
  return moved;
}

const show = (d: DeliveryView) =>
  `${d.laneId} #${d.seq} hb ${d.heartbeat} ${Buffer.from(d.payload).toString('hex')}`;

async function differential(datagrams: Uint8Array[]): Promise<void> {
  const engine = nativeEngine({ receive: 'blocking' });
  const oracle = new FrameReceiver(LOCAL_CLOCK);
  const sender = await RawSender.open();
  try {
    const port = await freeUdpPort();
    await engine.start({ bindAddress: LO, port });
    const inC: string[] = [];
    const inTs: string[] = [];
    engine.onDelivery((d) => inC.push(show(d)));
    oracle.onDelivery((d) => inTs.push(show(d)));
    for (const s of LANES) {
      engine.setReceiver(s);
      oracle.setLane(s, monotonicNs());
    }
    const final = encodeFrame({ wireId: 0x5a5a0009, epoch: 1, seq: 1 }, Buffer.from('final'));
    for (const [i, bytes] of [...datagrams, final].entries()) {
      const before = engine.counters();
      await sender.send(bytes, port);
      await waitFor(
        () => accounted(engine.counters()) > accounted(before),
        `datagram ${i} accounted for`,
        5_000,
      );
      const after = engine.counters();
      const ts = oracle.receive(bytes, LO, monotonicNs()) ?? `accepted ${oracle.table.lane!.spec.laneId}`;
      const hex = Buffer.from(bytes).toString('hex');
      expect(verdictOf(before, after), `datagram ${i} (${bytes.length} B): ${hex}`).toEqual([ts]);
    }
    const after = engine.counters();
    expect(accounted(after)).toBe(datagrams.length + 1);
    expect(after.dropped).toEqual(oracle.dropped);
    await waitFor(() => inC.length >= inTs.length, `${inTs.length} deliveries (have ${inC.length})`, 5_000);
    expect(inC).toEqual(inTs);
    expect(inC.at(-1)).toBe(`L9 #1 hb -1 ${Buffer.from('final').toString('hex')}`);
    for (const c of after.lanes) {
      const o = oracle.table.snapshot(oracle.table.get(c.laneId)!);
      const pick = (l: typeof c) => ({
        received: l.received,
        heartbeats: l.heartbeats,
        lost: l.lost,
        reordered: l.reordered,
        dropped: Object.fromEntries(LANE_DROP_REASONS.map((r) => [r, l.dropped[r]])),
      });
      expect(pick(c), `lane ${c.laneId}`).toEqual(pick(o));
    }
  } finally {
    await sender.close();
    await engine.close();
  }
}

describe.skipIf(skipReason !== '')(
  'native receive path against the TypeScript one (fuzzed, over UDP)',
  () => {
    it('gives every datagram the same verdict, delivers the same, and stays up', {
      timeout: 120_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(datagramArb, { minLength: 1, maxLength: 40, size: 'max' }), differential),
        {
          numRuns: 20,
          // A failure is reported with what shrinking reached by then, not after every shrink step.
          interruptAfterTimeLimit: 90_000,
          markInterruptAsFailure: true,
        },
      );
    });
  },
);
