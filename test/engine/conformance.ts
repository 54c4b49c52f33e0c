// The conformance suite every lane engine must pass (model: hono's common.case.test.ts). It drives
// an engine only through the Engine interface over real UDP on 127.0.0.1, so the js engine and the
// native engine of the next issue are held to the same behaviour:
//   runEngineConformance('js', createJsEngine)
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_BYTES } from '../../src/alloc/wire.js';
import { arrivalNs } from '../../src/engine/arrival.js';
import { monotonicNs } from '../../src/engine/clock.js';
import { nextBoundaryNs } from '../../src/engine/schedule.js';
import {
  type DeliveryView,
  DROP_REASONS,
  type DropReason,
  type Engine,
  LANE_DROP_REASONS,
  type LaneCounters,
  type LaneDropReason,
  type LivenessEvent,
  type ReceiverSpec,
  type SenderSpec,
} from '../../src/engine/types.js';
import { isXlaneError } from '../../src/errors.js';
import { encodeFrame, encodeHeartbeatFrame, freeUdpPort, RawSender, waitFor } from './helpers.js';

interface Got {
  laneId: string;
  seq: number;
  sentNs: number;
  receivedNs: number;
  /** When the frame reached the host: the kernel's stamp where the engine reports one (the native
   * engine's kernelReceivedNs), else receivedNs. Liveness is judged on it. */
  arrivalNs: number;
  payload: Buffer;
  heartbeat: number;
}

interface Node {
  engine: Engine;
  port: number;
  got: Got[];
  events: LivenessEvent[];
}

const LO = '127.0.0.1';
/** The period of the grid tests: long enough that a busy CI machine stays within the release jitters. */
const GRID_P = 60_000_000;

function sender(laneId: string, wireId: number, to: number[], over: Partial<SenderSpec> = {}): SenderSpec {
  return {
    laneId,
    wireId,
    epoch: 1,
    maxPayloadBytes: 64,
    minPeriodNs: 200_000,
    policy: 'reject',
    dscp: 46,
    priority: 0,
    srcPort: 0,
    destinations: to.map((port, i) => ({ host: `h${i}`, address: LO, port })),
    ...over,
  };
}

function receiver(laneId: string, wireId: number, over: Partial<ReceiverSpec> = {}): ReceiverSpec {
  return {
    laneId,
    wireId,
    epoch: 1,
    senderAddress: LO,
    maxPayloadBytes: 64,
    lambdaMinNs: 0,
    lambdaMaxNs: 60e9,
    ...over,
  };
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function lane(e: Engine, laneId: string): LaneCounters {
  const c = e.counters().lanes.find((l) => l.laneId === laneId);
  if (!c) throw new Error(`no counters for ${laneId}`);
  return c;
}

function noLaneDrops(): Record<LaneDropReason, number> {
  return Object.fromEntries(LANE_DROP_REASONS.map((r) => [r, 0])) as Record<LaneDropReason, number>;
}

function noDrops(): Record<DropReason, number> {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
}

function totalDropped(e: Engine): number {
  const d = e.counters().dropped;
  return DROP_REASONS.reduce((s, r) => s + d[r], 0);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isXlaneError(e) ? e.code : `non-xlane: ${String(e)}`;
  }
  return undefined;
}

/** Sends every payload, retrying a send the contract refuses for rate (the lane is busy); returns
 * how many sends were refused that way. */
async function sendAll(
  e: Engine,
  laneId: string,
  payloads: Buffer[],
  onSent?: (i: number) => void,
): Promise<number> {
  let refused = 0;
  for (let i = 0; i < payloads.length; ) {
    try {
      e.send(laneId, payloads[i]!);
      onSent?.(i);
      i++;
    } catch (err) {
      if (!isXlaneError(err) || err.code !== 'XL_ERR_CONTRACT_RATE') throw err;
      refused++;
      await new Promise((r) => setImmediate(r));
    }
  }
  return refused;
}

export function runEngineConformance(name: string, factory: () => Engine): void {
  describe(`engine conformance: ${name}`, () => {
    const open: Engine[] = [];

    async function node(): Promise<Node> {
      const engine = factory();
      open.push(engine);
      const port = await freeUdpPort();
      await engine.start({ bindAddress: LO, port });
      const got: Got[] = [];
      engine.onDelivery((d: DeliveryView) => {
        // The view and payload are reused by the engine: copy what the test keeps.
        got.push({
          laneId: d.laneId,
          seq: d.seq,
          sentNs: d.sentNs,
          receivedNs: d.receivedNs,
          arrivalNs: arrivalNs(d),
          payload: Buffer.from(d.payload),
          heartbeat: d.heartbeat,
        });
      });
      const events: LivenessEvent[] = [];
      engine.onLiveness((e) => events.push({ ...e }));
      return { engine, port, got, events };
    }

    afterEach(async () => {
      await Promise.all(open.splice(0).map((e) => e.close()));
    });

    it('delivers messages in order with consecutive sequence numbers and timestamps', async () => {
      const [a, b] = [await node(), await node()];
      b.engine.setReceiver(receiver('L1', 1));
      a.engine.setSender(sender('L1', 1, [b.port]));
      const payloads = Array.from({ length: 50 }, (_, i) => u32(i));
      const refused = await sendAll(a.engine, 'L1', payloads);
      await waitFor(() => b.got.length === 50, '50 deliveries');
      expect(b.got.map((g) => g.payload.readUInt32BE())).toEqual(payloads.map((_, i) => i));
      expect(b.got.map((g) => g.seq)).toEqual(payloads.map((_, i) => i));
      for (const g of b.got) {
        expect(g.laneId).toBe('L1');
        expect(g.receivedNs).toBeGreaterThan(g.sentNs);
        expect(g.heartbeat).toBe(-1);
      }
      expect(lane(a.engine, 'L1')).toMatchObject({ sent: 50, refused, coalesced: 0 });
      expect(lane(b.engine, 'L1')).toMatchObject({ received: 50, lost: 0, reordered: 0, late: 0, early: 0 });
      expect(lane(b.engine, 'L1').latency.count).toBe(50);
      expect(totalDropped(b.engine)).toBe(0);
    });

    it('loses nothing at a moderate rate and never puts two frames closer than π_min', async () => {
      const [a, b] = [await node(), await node()];
      const periodNs = 200_000;
      b.engine.setReceiver(receiver('L1', 1));
      a.engine.setSender(sender('L1', 1, [b.port], { minPeriodNs: periodNs }));
      const n = 2000;
      await sendAll(
        a.engine,
        'L1',
        Array.from({ length: n }, (_, i) => u32(i)),
      );
      await waitFor(() => b.got.length === n, `${n} deliveries`);
      const c = lane(b.engine, 'L1');
      expect(c).toMatchObject({ received: n, lost: 0, reordered: 0 });
      expect(new Set(b.got.map((g) => g.payload.readUInt32BE())).size).toBe(n);
      for (let i = 1; i < n; i++)
        expect(b.got[i]!.sentNs - b.got[i - 1]!.sentNs).toBeGreaterThanOrEqual(periodNs);
      expect(totalDropped(b.engine)).toBe(0);
    });

    /** A lane of period P = 60 ms and release jitter E sends message 1; message 2 is handed over
     * `lateMs` after its boundary (r1 + π), so it leaves at once, that late; message 3 is queued
     * right behind it and waits for the boundary after the second. The three release times. */
    const secondLate = async (E: number, lateMs: number) => {
      const [a, b] = [await node(), await node()];
      b.engine.setReceiver(receiver('L1', 1));
      a.engine.setSender(sender('L1', 1, [b.port], { minPeriodNs: GRID_P, releaseJitterNs: E }));
      a.engine.send('L1', u32(1));
      await waitFor(() => b.got.length === 1, 'the first message');
      const r1 = b.got[0]!.sentNs;
      await new Promise((r) => setTimeout(r, Math.max(0, (r1 + GRID_P - monotonicNs()) / 1e6 + lateMs)));
      a.engine.send('L1', u32(2));
      await waitFor(() => b.got.length === 2, 'the second message');
      await sendAll(a.engine, 'L1', [u32(3)]);
      await waitFor(() => b.got.length === 3, 'the third message');
      expect(b.got.map((g) => g.payload.readUInt32BE())).toEqual([1, 2, 3]);
      const [, r2, r3] = b.got.map((g) => g.sentNs) as [number, number, number];
      return { sender: a.engine, r1, r2, r3 };
    };

    it('with a release jitter E: a frame at most E late keeps the grid, so the next may follow it by π − d', async () => {
      const P = GRID_P;
      const E = 40_000_000;
      const { sender: a, r1, r2, r3 } = await secondLate(E, 20);
      const d = r2 - (r1 + P);
      expect(d).toBeGreaterThanOrEqual(0);
      const boundary3 = nextBoundaryNs(r1 + P, r2, P, E);
      expect(r3).toBeGreaterThanOrEqual(boundary3);
      // d ≤ E (the event loop was not 20 ms late): the grid held and the third frame came π − d after
      // the second — never sooner than π − E. Otherwise the second frame started a new grid.
      if (d <= E) expect(r3 - r2).toBeLessThan(P);
      expect(r3 - r2).toBeGreaterThanOrEqual(P - E);
      // The second message was due when it was handed over, not at the boundary 20 ms before: the
      // lane sat idle, the engine was not late. (Counting from the boundary would show ≥ 20 ms.)
      const c = lane(a, 'L1');
      expect(c.maxReleaseDelayNs).toBeGreaterThanOrEqual(0);
      expect(c.maxReleaseDelayNs).toBeLessThan(15_000_000);
      expect(c.lateReleases).toBeLessThanOrEqual(c.sent);
    });

    it('with a release jitter E: a frame d > E late starts its grid E before it, so the next may follow it by π − E', async () => {
      const P = GRID_P;
      const E = 20_000_000;
      const { r1, r2, r3 } = await secondLate(E, 40);
      expect(r2 - (r1 + P)).toBeGreaterThan(E);
      // The new grid's boundary is r2 − E: the third frame is due π − E after the second — not a
      // whole π (the delay within E is not lost) and never sooner (the arrival curve holds).
      expect(r3 - r2).toBeGreaterThanOrEqual(P - E);
      expect(r3 - r2).toBeLessThan(P);
    });

    it('with a release jitter E, any j + 1 frames of a backlogged lane span at least j·π − E', async () => {
      const [a, b] = [await node(), await node()];
      const P = 200_000;
      const E = 100_000;
      b.engine.setReceiver(receiver('L1', 1));
      a.engine.setSender(
        sender('L1', 1, [b.port], { minPeriodNs: P, releaseJitterNs: E, policy: 'coalesce' }),
      );
      // Kept backlogged for 100 ms and until 40 frames left (a loaded machine may starve this loop;
      // bounded at 10 s and in count): the lane releases one frame per boundary.
      const start = Date.now();
      const busy = () =>
        Date.now() - start < 100 || (lane(a.engine, 'L1').sent < 40 && Date.now() - start < 10_000);
      for (let i = 0; i < 1_000_000 && busy(); i++) {
        a.engine.send('L1', u32(i));
        await new Promise((r) => setImmediate(r));
      }
      await waitFor(() => lane(a.engine, 'L1').sent === b.got.length && b.got.length > 20, 'the frames');
      const t = b.got.map((g) => g.sentNs);
      for (let i = 0; i < t.length; i++)
        for (let j = i + 1; j < t.length; j++) expect(t[j]! - t[i]!).toBeGreaterThanOrEqual((j - i) * P - E);
    });

    it('can send to itself: one engine is sender and receiver of a lane', async () => {
      const a = await node();
      a.engine.setReceiver(receiver('L7', 7));
      a.engine.setSender(sender('L7', 7, [a.port]));
      await sendAll(a.engine, 'L7', [u32(1), u32(2), u32(3)]);
      await waitFor(() => a.got.length === 3, '3 deliveries');
      expect(lane(a.engine, 'L7')).toMatchObject({ sent: 3, received: 3, lost: 0 });
    });

    it('delivers a message sent right after its lane was opened, for many lanes opened in a row', async () => {
      const [a, b] = [await node(), await node()];
      const ids = Array.from({ length: 200 }, (_, i) => 100 + i);
      for (const id of ids) {
        b.engine.setReceiver(receiver(`L${id}`, id));
        a.engine.setSender(sender(`L${id}`, id, [b.port]));
        expect(a.engine.send(`L${id}`, u32(id))).toBe('queued');
      }
      await waitFor(() => b.got.length === ids.length, `${ids.length} first messages`);
      expect(b.got.map((g) => g.payload.readUInt32BE()).sort((x, y) => x - y)).toEqual(ids);
      expect(b.got.every((g) => g.laneId === `L${g.payload.readUInt32BE()}` && g.seq === 0)).toBe(true);
    });

    it('sends one frame per destination with the same sequence number', async () => {
      const [a, b, c] = [await node(), await node(), await node()];
      b.engine.setReceiver(receiver('L2', 2));
      c.engine.setReceiver(receiver('L2', 2));
      a.engine.setSender(sender('L2', 2, [b.port, c.port]));
      await sendAll(a.engine, 'L2', [u32(10), u32(11)]);
      await waitFor(() => b.got.length === 2 && c.got.length === 2, 'both receivers');
      expect(b.got.map((g) => [g.seq, g.payload.readUInt32BE()])).toEqual([
        [0, 10],
        [1, 11],
      ]);
      expect(c.got.map((g) => [g.seq, g.sentNs])).toEqual(b.got.map((g) => [g.seq, g.sentNs]));
    });

    it('refuses a message larger than σ_max with XL_ERR_CONTRACT_SIZE and sends nothing for it', async () => {
      const [a, b] = [await node(), await node()];
      b.engine.setReceiver(receiver('L1', 1, { maxPayloadBytes: 32 }));
      a.engine.setSender(sender('L1', 1, [b.port], { maxPayloadBytes: 32 }));
      expect(codeOf(() => a.engine.send('L1', Buffer.alloc(33)))).toBe('XL_ERR_CONTRACT_SIZE');
      expect(a.engine.send('L1', Buffer.alloc(32, 7))).toBe('queued');
      await waitFor(() => b.got.length === 1, 'the fitting message');
      expect(b.got[0]!.payload).toEqual(Buffer.alloc(32, 7));
      expect(lane(a.engine, 'L1')).toMatchObject({ sent: 1, refused: 1 });
    });

    it("policy 'reject': a message while the previous one waits for its slot gets XL_ERR_CONTRACT_RATE", async () => {
      const [a, b] = [await node(), await node()];
      const periodNs = 1e9;
      b.engine.setReceiver(receiver('L1', 1));
      a.engine.setSender(sender('L1', 1, [b.port], { minPeriodNs: periodNs }));
      expect(a.engine.send('L1', u32(1))).toBe('queued');
      await waitFor(() => lane(a.engine, 'L1').sent === 1, 'the first release');
      // The lane just released: the next message waits a whole period for its slot.
      expect(a.engine.send('L1', u32(2))).toBe('queued');
      expect(codeOf(() => a.engine.send('L1', u32(3)))).toBe('XL_ERR_CONTRACT_RATE');
      await waitFor(() => b.got.length === 2, 'the second message');
      expect(b.got.map((g) => g.payload.readUInt32BE())).toEqual([1, 2]);
      expect(b.got[1]!.sentNs - b.got[0]!.sentNs).toBeGreaterThanOrEqual(periodNs);
      expect(lane(a.engine, 'L1')).toMatchObject({ sent: 2, refused: 1, coalesced: 0 });
    });

    it("policy 'coalesce': newer messages replace the waiting one and the newest is sent", async () => {
      const [a, b] = [await node(), await node()];
      b.engine.setReceiver(receiver('L1', 1));
      a.engine.setSender(sender('L1', 1, [b.port], { minPeriodNs: 1e9, policy: 'coalesce' }));
      expect(a.engine.send('L1', u32(1))).toBe('queued');
      await waitFor(() => lane(a.engine, 'L1').sent === 1, 'the first release');
      expect(a.engine.send('L1', u32(2))).toBe('queued');
      expect(a.engine.send('L1', u32(3))).toBe('coalesced');
      expect(a.engine.send('L1', u32(4))).toBe('coalesced');
      await waitFor(() => b.got.length === 2, 'the coalesced message');
      expect(b.got.map((g) => g.payload.readUInt32BE())).toEqual([1, 4]);
      expect(lane(a.engine, 'L1')).toMatchObject({ sent: 2, coalesced: 2, refused: 0 });
      expect(lane(b.engine, 'L1')).toMatchObject({ received: 2, lost: 0 });
    });

    it('rejects sends on unknown lanes and invalid lane specs with stable codes', async () => {
      const a = await node();
      expect(codeOf(() => a.engine.send('L404', u32(1)))).toBe('XL_ERR_UNKNOWN_LANE');
      expect(codeOf(() => a.engine.setSender(sender('L1', 1, [])))).toBe('XL_ERR_VALIDATION');
      expect(codeOf(() => a.engine.setSender(sender('L1', 1, [a.port], { maxPayloadBytes: 5000 })))).toBe(
        'XL_ERR_VALIDATION',
      );
      expect(codeOf(() => a.engine.setSender(sender('L1', 1, [a.port], { minPeriodNs: 0 })))).toBe(
        'XL_ERR_VALIDATION',
      );
      for (const releaseJitterNs of [-1, 1_000_000, Number.NaN])
        expect(
          codeOf(() =>
            a.engine.setSender(sender('L1', 1, [a.port], { minPeriodNs: 1_000_000, releaseJitterNs })),
          ),
        ).toBe('XL_ERR_VALIDATION');
      expect(codeOf(() => a.engine.setReceiver(receiver('L1', 1, { senderAddress: 'h1' })))).toBe(
        'XL_ERR_VALIDATION',
      );
    });

    it('counts sequence gaps as lost, late fills as reordered, repeats as duplicate and far-behind as old', async () => {
      const b = await node();
      const raw = await RawSender.open();
      try {
        b.engine.setReceiver(receiver('L1', 1));
        const seqs = [0, 1, 2, 5, 6, 4, 5, 100, 6];
        for (const seq of seqs) await raw.send(encodeFrame({ wireId: 1, seq }, u32(seq)), b.port);
        await waitFor(() => b.got.length + totalDropped(b.engine) === seqs.length, 'all frames handled');
        expect(b.got.map((g) => g.seq)).toEqual([0, 1, 2, 5, 6, 4, 100]);
        // Missing: 3 (never filled) and 7..99 (93 numbers); 4 arrived late and filled its gap.
        expect(lane(b.engine, 'L1')).toMatchObject({ received: 7, lost: 1 + 93, reordered: 1 });
        expect(b.engine.counters().dropped).toMatchObject({ duplicate: 1, old: 1 });
      } finally {
        await raw.close();
      }
    });

    it('measures lateness against the lane window [λ_min, λ_max]', async () => {
      const [a, b] = [await node(), await node()];
      // A window no real delivery fits: below λ_min for one lane, above λ_max for the other.
      b.engine.setReceiver(receiver('L1', 1, { lambdaMinNs: 1e12, lambdaMaxNs: 2e12 }));
      b.engine.setReceiver(receiver('L2', 2, { lambdaMinNs: 0, lambdaMaxNs: 1 }));
      a.engine.setSender(sender('L1', 1, [b.port]));
      a.engine.setSender(sender('L2', 2, [b.port]));
      await sendAll(a.engine, 'L1', [u32(1), u32(2)]);
      await sendAll(a.engine, 'L2', [u32(1), u32(2), u32(3)]);
      await waitFor(() => b.got.length === 5, '5 deliveries');
      expect(lane(b.engine, 'L1')).toMatchObject({ received: 2, early: 2, late: 0 });
      expect(lane(b.engine, 'L2')).toMatchObject({ received: 3, early: 0, late: 3 });
      const lat = lane(b.engine, 'L2').latency;
      expect(lat.count).toBe(3);
      expect(lat.minNs).toBeGreaterThan(0);
      expect(lat.maxNs).toBeGreaterThanOrEqual(lat.minNs);
      expect(lat.sumNs).toBeGreaterThanOrEqual(3 * lat.minNs);
    });

    it('measures no latency for a sender whose clock is not this host’s (sharedClock false)', async () => {
      const [a, b] = [await node(), await node()];
      // The same window as above: with a shared clock every frame would count as late.
      b.engine.setReceiver(receiver('L1', 1, { lambdaMinNs: 0, lambdaMaxNs: 1, sharedClock: false }));
      a.engine.setSender(sender('L1', 1, [b.port]));
      await sendAll(a.engine, 'L1', [u32(1), u32(2), u32(3)]);
      await waitFor(() => b.got.length === 3, '3 deliveries');
      expect(lane(b.engine, 'L1')).toMatchObject({ received: 3, early: 0, late: 0 });
      expect(lane(b.engine, 'L1').latency.count).toBe(0);
      // The deliveries still carry the sender's stamp, for an application that knows the offset.
      expect(b.got.every((d) => d.sentNs > 0)).toBe(true);
      // A grant change that says the clocks agree (the sender moved onto this host) measures again.
      b.engine.setReceiver(receiver('L1', 1, { lambdaMinNs: 0, lambdaMaxNs: 1, sharedClock: true }));
      await sendAll(a.engine, 'L1', [u32(4)]);
      await waitFor(() => b.got.length === 4, '4 deliveries');
      expect(lane(b.engine, 'L1')).toMatchObject({ received: 4, late: 1 });
      expect(lane(b.engine, 'L1').latency.count).toBe(1);
    });

    it('drops bad datagrams, each counted under exactly one reason, and keeps running', async () => {
      const b = await node();
      const raw = await RawSender.open();
      const stranger = await RawSender.open('127.0.0.2');
      try {
        b.engine.setReceiver(receiver('L1', 1, { epoch: 5, maxPayloadBytes: 16 }));
        b.engine.setReceiver(receiver('L2', 2, { epoch: 5 }));
        const good = encodeFrame({ wireId: 1, epoch: 5, seq: 10 }, u32(10));
        const badMagic = Buffer.from(good);
        badMagic[0] = 0x00;
        const noSubs = Buffer.from(good);
        noSubs[24] = 0;
        const cases: [DropReason, Uint8Array, RawSender][] = [
          ['short', Buffer.alloc(10), raw],
          ['oversize', Buffer.alloc(1500), raw],
          ['version', badMagic, raw],
          ['malformed', noSubs, raw],
          ['unknownLane', encodeFrame({ wireId: 99, epoch: 5 }, u32(0)), raw],
          ['staleEpoch', encodeFrame({ wireId: 1, epoch: 4, seq: 11 }, u32(0)), raw],
          ['wrongSender', encodeFrame({ wireId: 1, epoch: 5, seq: 12 }, u32(0)), stranger],
          ['oversize', encodeFrame({ wireId: 1, epoch: 5, seq: 13 }, Buffer.alloc(17)), raw],
        ];
        await raw.send(good, b.port);
        await waitFor(() => b.got.length === 1, 'the valid frame');
        for (const [, bytes, from] of cases) await from.send(bytes, b.port);
        await raw.send(good, b.port); // duplicate
        await raw.send(encodeFrame({ wireId: 1, epoch: 5, seq: 200 }, u32(200)), b.port);
        await raw.send(encodeFrame({ wireId: 1, epoch: 5, seq: 100 }, u32(100)), b.port); // old
        await raw.send(encodeFrame({ wireId: 1, epoch: 6, seq: 201 }, u32(201)), b.port); // newer epoch: fine
        await waitFor(() => b.got.length === 3, 'the later valid frames');
        await waitFor(() => totalDropped(b.engine) === cases.length + 2, 'every bad frame counted');
        const expected = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
        for (const [reason] of cases) expected[reason]++;
        expected.duplicate++;
        expected.old++;
        expect(b.engine.counters().dropped).toEqual(expected);
        expect(b.got.map((g) => g.seq)).toEqual([10, 200, 201]);
        // What was decided once the frame named L1 is L1's too; the datagram-level oversize and the
        // header and lane-lookup drops belong to no lane, and L2 was never named.
        expect(lane(b.engine, 'L1').dropped).toEqual({
          wrongSender: 1,
          staleEpoch: 1,
          oversize: 1,
          old: 1,
          duplicate: 1,
        });
        expect(lane(b.engine, 'L2').dropped).toEqual(noLaneDrops());
      } finally {
        await Promise.all([raw.close(), stranger.close()]);
      }
    });

    it('a receiver ahead by one grant accepts the previous epoch under its σ_max, older epochs are stale', async () => {
      const b = await node();
      const raw = await RawSender.open();
      try {
        b.engine.setReceiver(receiver('L1', 1, { epoch: 1, maxPayloadBytes: 16 }));
        b.engine.setReceiver(receiver('L1', 1, { epoch: 2, maxPayloadBytes: 32 }));
        // Re-applying the same epoch (only λ changes) must not forget the previous grant.
        b.engine.setReceiver(receiver('L1', 1, { epoch: 2, maxPayloadBytes: 32, lambdaMinNs: 1 }));
        const frame = (epoch: number, seq: number, bytes: number) =>
          encodeFrame({ wireId: 1, epoch, seq }, Buffer.alloc(bytes, seq));
        const grant2: [DropReason | 'delivered', Buffer][] = [
          ['delivered', frame(1, 0, 16)], // the sender has not applied epoch 2 yet
          ['staleEpoch', frame(0, 1, 4)], // two grants old
          ['oversize', frame(1, 2, 17)], // fits the new σ_max, not the old one it was sent under
          ['delivered', frame(2, 3, 32)],
          ['delivered', frame(1, 4, 4)], // a straggler of the previous grant, still in time
        ];
        for (const [, bytes] of grant2) await raw.send(bytes, b.port);
        await waitFor(
          () => b.got.length + totalDropped(b.engine) === grant2.length,
          'grant-2 frames handled',
        );
        expect(b.got.map((g) => [g.seq, g.payload.length])).toEqual([
          [0, 16],
          [3, 32],
          [4, 4],
        ]);
        expect(b.engine.counters().dropped).toMatchObject({ staleEpoch: 1, oversize: 1 });

        // The next change makes epoch 2 the previous one: epoch 1 is now two grants old.
        b.engine.setReceiver(receiver('L1', 1, { epoch: 3, maxPayloadBytes: 8 }));
        await raw.send(frame(1, 5, 4), b.port);
        await raw.send(frame(2, 6, 32), b.port);
        await raw.send(frame(3, 7, 8), b.port);
        await waitFor(
          () => b.got.length + totalDropped(b.engine) === grant2.length + 3,
          'grant-3 frames handled',
        );
        expect(b.got.slice(3).map((g) => g.seq)).toEqual([6, 7]);
        const expected = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
        expected.staleEpoch = 2;
        expected.oversize = 1;
        expect(b.engine.counters().dropped).toEqual(expected);
        expect(lane(b.engine, 'L1')).toMatchObject({ received: 5 });
      } finally {
        await raw.close();
      }
    });

    it('a receiver that skipped a grant accepts the epoch in between, under the frame limit; older than both is stale', async () => {
      const b = await node();
      const raw = await RawSender.open();
      try {
        // Epochs are global: the lane's grant of epoch 7 never reached this receiver (it resynced
        // from a snapshot), so it holds epoch 9 with epoch 5 as the previous grant.
        b.engine.setReceiver(receiver('L1', 1, { epoch: 5, maxPayloadBytes: 16 }));
        b.engine.setReceiver(receiver('L1', 1, { epoch: 9, maxPayloadBytes: 8 }));
        const frame = (epoch: number, seq: number, bytes: number) =>
          encodeFrame({ wireId: 1, epoch, seq }, Buffer.alloc(bytes, seq));
        const cases: [DropReason | 'delivered', Buffer][] = [
          ['delivered', frame(7, 0, 4)], // a sender still on the skipped grant
          ['delivered', frame(7, 1, MAX_PAYLOAD_BYTES)], // its σ_max is unknown here: the frame limit
          ['oversize', frame(7, 2, MAX_PAYLOAD_BYTES + 1)],
          ['delivered', frame(5, 3, 16)], // the previous grant, under its own σ_max
          ['oversize', frame(5, 4, 17)],
          ['oversize', frame(9, 5, 9)],
          ['staleEpoch', frame(4, 6, 4)], // older than both grants held
        ];
        for (const [, bytes] of cases) await raw.send(bytes, b.port);
        await waitFor(() => b.got.length + totalDropped(b.engine) === cases.length, 'every frame handled');
        expect(b.got.map((g) => [g.seq, g.payload.length])).toEqual([
          [0, 4],
          [1, MAX_PAYLOAD_BYTES],
          [3, 16],
        ]);
        const expected = noDrops();
        expected.oversize = 3;
        expected.staleEpoch = 1;
        expect(b.engine.counters().dropped).toEqual(expected);
        expect(lane(b.engine, 'L1').dropped).toEqual({ ...noLaneDrops(), oversize: 3, staleEpoch: 1 });

        // A fresh receiver holds no previous grant: anything older than its epoch is stale.
        b.engine.setReceiver(receiver('L2', 2, { epoch: 9 }));
        await raw.send(encodeFrame({ wireId: 2, epoch: 8, seq: 0 }, u32(0)), b.port);
        await raw.send(encodeFrame({ wireId: 2, epoch: 9, seq: 1 }, u32(1)), b.port);
        await waitFor(() => b.got.length === 4, 'the current-epoch frame');
        expect(b.got[3]).toMatchObject({ laneId: 'L2', seq: 1 });
        expect(b.engine.counters().dropped.staleEpoch).toBe(2);
        expect(lane(b.engine, 'L2').dropped).toEqual({ ...noLaneDrops(), staleEpoch: 1 });
      } finally {
        await raw.close();
      }
    });

    it("keeps a lane's receive drops when the same engine also sends on it", async () => {
      const a = await node();
      const raw = await RawSender.open();
      const stranger = await RawSender.open('127.0.0.2');
      try {
        a.engine.setReceiver(receiver('L7', 7, { epoch: 3 }));
        a.engine.setSender(sender('L7', 7, [a.port], { epoch: 3 }));
        a.engine.setSender(sender('L8', 8, [a.port]));
        await sendAll(a.engine, 'L7', [u32(1)]);
        await waitFor(() => a.got.length === 1, 'the message to itself');
        await stranger.send(encodeFrame({ wireId: 7, epoch: 3, seq: 50 }, u32(0)), a.port);
        await raw.send(encodeFrame({ wireId: 7, epoch: 2, seq: 51 }, u32(0)), a.port);
        await raw.send(encodeFrame({ wireId: 7, epoch: 3, seq: 0 }, u32(0)), a.port); // duplicate
        await waitFor(() => totalDropped(a.engine) === 3, 'the bad frames counted');
        const c = lane(a.engine, 'L7');
        expect(c).toMatchObject({ sent: 1, received: 1 });
        expect(c.dropped).toEqual({ ...noLaneDrops(), wrongSender: 1, staleEpoch: 1, duplicate: 1 });
        // A lane this engine only sends on has nothing received to drop.
        expect(lane(a.engine, 'L8').dropped).toEqual(noLaneDrops());
      } finally {
        await Promise.all([raw.close(), stranger.close()]);
      }
    });

    it('closes and reopens a lane: the closed lane refuses sends, the reopened one delivers again', async () => {
      const [a, b] = [await node(), await node()];
      b.engine.setReceiver(receiver('L1', 1));
      a.engine.setSender(sender('L1', 1, [b.port]));
      await sendAll(a.engine, 'L1', [u32(1), u32(2)]);
      await waitFor(() => b.got.length === 2, 'first deliveries');
      a.engine.removeSender('L1');
      b.engine.removeReceiver('L1');
      expect(codeOf(() => a.engine.send('L1', u32(3)))).toBe('XL_ERR_UNKNOWN_LANE');
      expect(a.engine.counters().lanes.map((l) => l.laneId)).not.toContain('L1');
      b.engine.setReceiver(receiver('L1', 1));
      a.engine.setSender(sender('L1', 1, [b.port]));
      await sendAll(a.engine, 'L1', [u32(4), u32(5)]);
      await waitFor(() => b.got.length === 4, 'deliveries after reopening');
      expect(b.got.slice(2).map((g) => [g.seq, g.payload.readUInt32BE()])).toEqual([
        [0, 4],
        [1, 5],
      ]);
      expect(lane(a.engine, 'L1')).toMatchObject({ sent: 2 });
      expect(lane(b.engine, 'L1')).toMatchObject({ received: 2, lost: 0 });
    });

    it('applies grant changes while sending (period, epoch, size) without loss, duplicates or a sequence reset', async () => {
      const [a, b] = [await node(), await node()];
      b.engine.setReceiver(receiver('L1', 1));
      a.engine.setSender(sender('L1', 1, [b.port], { minPeriodNs: 200_000 }));
      const n = 600;
      const changes: Record<number, () => void> = {
        200: () => a.engine.setSender(sender('L1', 1, [b.port], { epoch: 2, minPeriodNs: 400_000 })),
        400: () =>
          a.engine.setSender(
            sender('L1', 1, [b.port], { epoch: 3, minPeriodNs: 100_000, maxPayloadBytes: 32 }),
          ),
      };
      const refused = await sendAll(
        a.engine,
        'L1',
        Array.from({ length: n }, (_, i) => u32(i)),
        (i) => changes[i]?.(),
      );
      // The receiver learns the grant after the sender (it may lag by one epoch).
      b.engine.setReceiver(receiver('L1', 1, { epoch: 3, maxPayloadBytes: 32 }));
      await waitFor(() => b.got.length === n, `${n} deliveries`);
      expect(b.got.map((g) => g.seq)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(b.got.map((g) => g.payload.readUInt32BE())).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(lane(b.engine, 'L1')).toMatchObject({ received: n, lost: 0, reordered: 0 });
      expect(lane(a.engine, 'L1')).toMatchObject({ sent: n, refused, coalesced: 0 });
      expect(totalDropped(b.engine)).toBe(0);
      // The new, smaller σ_max holds for sends after the change.
      expect(codeOf(() => a.engine.send('L1', Buffer.alloc(33)))).toBe('XL_ERR_CONTRACT_SIZE');
    });

    it('reports a lane whose source port is taken with XL_ERR_KERNEL instead of sending from another port', async () => {
      const a = await node();
      const squatter = await RawSender.open();
      try {
        const port = squatter.port();
        a.engine.setSender(sender('L1', 1, [a.port], { srcPort: port }));
        let code: string | undefined;
        await waitFor(() => {
          code = codeOf(() => a.engine.send('L1', u32(1)));
          return code !== undefined && code !== 'XL_ERR_CONTRACT_RATE';
        }, 'the bind failure to surface');
        expect(code).toBe('XL_ERR_KERNEL');
        expect(a.got).toEqual([]);
        expect(lane(a.engine, 'L1').sent).toBe(0);
      } finally {
        await squatter.close();
      }
    });

    it('fails to start on a port that is taken, with XL_ERR_KERNEL', async () => {
      const squatter = await RawSender.open();
      const engine = factory();
      open.push(engine);
      try {
        await expect(engine.start({ bindAddress: LO, port: squatter.port() })).rejects.toMatchObject({
          code: 'XL_ERR_KERNEL',
        });
      } finally {
        await squatter.close();
      }
    });

    describe('heartbeats and the liveness watch', () => {
      const hbSender = (to: number[], incarnation: number, over: Partial<SenderSpec> = {}) =>
        sender('L1', 1, to, { minPeriodNs: 2_000_000, heartbeat: { incarnation }, ...over });

      it('a heartbeat lane releases one frame per period without any application send', async () => {
        const [a, b] = [await node(), await node()];
        b.engine.setReceiver(receiver('L1', 1, { heartbeat: { deliver: true } }));
        a.engine.setSender(hbSender([b.port], 7));
        await waitFor(() => b.got.length >= 30, '30 heartbeats');
        const hbs = b.got.slice(0, 30);
        expect(hbs.map((g) => g.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i));
        for (const g of hbs)
          expect(g).toMatchObject({ laneId: 'L1', heartbeat: 7, payload: Buffer.alloc(0) });
        // Time-triggered, but never more than one frame per π_min.
        for (let i = 1; i < hbs.length; i++)
          expect(hbs[i]!.sentNs - hbs[i - 1]!.sentNs).toBeGreaterThanOrEqual(2_000_000);
        // A grant change keeps the beat and the sequence going.
        a.engine.setSender(hbSender([b.port], 7, { epoch: 2, minPeriodNs: 3_000_000 }));
        const changedAt = monotonicNs(); // the change is posted by now
        const n = b.got.length;
        await waitFor(() => b.got.length >= n + 10, '10 heartbeats after the grant change');
        const all = b.got.map((g) => g.seq);
        expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i));
        // The longer period holds from the next boundary: every frame whose old boundary (2 ms after
        // its predecessor) lay after the change was posted comes 3 ms after its predecessor. (An
        // earlier boundary's frame may still leave late: the engine thread can be preempted between
        // its last look at the control queue, at most 3 µs before a boundary, and the release;
        // 100 µs of margin.)
        for (let i = 1; i < b.got.length; i++) {
          const oldBoundary = b.got[i - 1]!.sentNs + 2_000_000;
          if (oldBoundary <= changedAt + 100_000) continue;
          const gap = b.got[i]!.sentNs - b.got[i - 1]!.sentNs;
          expect(
            gap,
            `frame ${i} of ${b.got.length}, old boundary ${oldBoundary - changedAt} ns after the change`,
          ).toBeGreaterThanOrEqual(3_000_000);
        }
        // Counters compared field by field must hold still: the native engine's thread updates them
        // while JS reads (seen once: received 41, heartbeats 40). Stop the sender first.
        const sent = lane(a.engine, 'L1').sent;
        a.engine.removeSender('L1');
        await new Promise((r) => setTimeout(r, 50));
        const rc = lane(b.engine, 'L1');
        expect(rc.received).toBeGreaterThanOrEqual(all.length);
        expect(rc.heartbeats).toBe(rc.received);
        expect(rc.latency.count).toBe(rc.received);
        expect(sent).toBeGreaterThanOrEqual(all.length);
        expect(totalDropped(b.engine)).toBe(0);
      });

      it('a lane with a phase sends on its phase grid, wherever its first frame left; a new phase is walked onto', async () => {
        const [a, b] = [await node(), await node()];
        const P = 10_000_000;
        const E = 2_000_000;
        // A phase half a period from now: a lane that gridded from its first release (about now)
        // would send ~5 ms off it.
        const phaseAt = (t: number) => Math.round((((t + P / 2) % P) + P) % P);
        const residue = (t: number, phase: number) => (((t - phase) % P) + P) % P;
        // Released at (or, on a busy machine, after) its boundaries, which sit on the phase: most
        // within E of a phase point (a lane without the phase would be ~π/2 off).
        const expectOnPhase = (frames: { sentNs: number }[], phase: number) =>
          expect(
            frames.filter((g) => residue(g.sentNs, phase) <= E).length,
            frames.map((g) => residue(g.sentNs, phase)).join(' '),
          ).toBeGreaterThanOrEqual(10);
        b.engine.setReceiver(receiver('L1', 1, { heartbeat: { deliver: true } }));
        const phase1 = phaseAt(monotonicNs());
        a.engine.setSender(hbSender([b.port], 1, { minPeriodNs: P, releaseJitterNs: E, phaseNs: phase1 }));
        // Walked onto the phase by at most E per period: there after ⌈π/E⌉ + 1 = 6 frames.
        await waitFor(() => b.got.length >= 27, '27 heartbeats');
        const first = b.got.slice(7, 27);
        expectOnPhase(first, phase1);
        for (let i = 1; i < b.got.length; i++)
          expect(b.got[i]!.sentNs - b.got[i - 1]!.sentNs).toBeGreaterThanOrEqual(P - E);
        // A grant with another phase, half a period off the frames so far: the grid walks onto it,
        // the sequence goes on.
        const phase2 = phaseAt(b.got.at(-1)!.sentNs);
        a.engine.setSender(
          hbSender([b.port], 1, { epoch: 2, minPeriodNs: P, releaseJitterNs: E, phaseNs: phase2 }),
        );
        const n = b.got.length;
        await waitFor(() => b.got.length >= n + 28, '28 heartbeats after the change');
        const after = b.got.slice(n + 8, n + 28);
        expectOnPhase(after, phase2);
        for (let i = 1; i < b.got.length; i++)
          expect(b.got[i]!.sentNs - b.got[i - 1]!.sentNs).toBeGreaterThanOrEqual(P - E);
        expect(b.got.map((g) => g.seq)).toEqual(Array.from({ length: b.got.length }, (_, i) => i));
        // Invalid phases are refused.
        for (const phaseNs of [-1, P, 0.5])
          expect(
            codeOf(() =>
              a.engine.setSender(hbSender([b.port], 1, { minPeriodNs: P, releaseJitterNs: E, phaseNs })),
            ),
          ).toBe('XL_ERR_VALIDATION');
      });

      it('application messages ride in the heartbeat frames: no extra frames', async () => {
        const [a, b, c] = [await node(), await node(), await node()];
        b.engine.setReceiver(receiver('L1', 1, { heartbeat: { deliver: true } }));
        c.engine.setReceiver(receiver('L1', 1));
        a.engine.setSender(hbSender([b.port, c.port], 3));
        await waitFor(() => b.got.length >= 2, 'the first heartbeats');
        await sendAll(
          a.engine,
          'L1',
          [1, 2, 3, 4, 5].map((i) => u32(i)),
        );
        await waitFor(() => c.got.length === 5, 'the 5 messages');
        // Without `deliver`, only frames with DATA reach the application, with the incarnation.
        expect(c.got.map((g) => [g.payload.readUInt32BE(), g.heartbeat])).toEqual(
          [1, 2, 3, 4, 5].map((i) => [i, 3]),
        );
        await waitFor(() => b.got.some((g) => g.seq > c.got[4]!.seq), 'a heartbeat after the last message');
        // One sequence of frames for heartbeats and messages alike, never closer than π_min.
        const frames = b.got.filter((g) => g.seq <= c.got[4]!.seq + 1);
        expect(frames.map((g) => g.seq)).toEqual(Array.from({ length: frames.length }, (_, i) => i));
        for (let i = 1; i < frames.length; i++)
          expect(frames[i]!.sentNs - frames[i - 1]!.sentNs).toBeGreaterThanOrEqual(2_000_000);
        expect(frames.every((g) => g.heartbeat === 3)).toBe(true);
        const withData = frames.filter((g) => g.payload.length > 0);
        expect(withData.map((g) => [g.seq, g.sentNs])).toEqual(c.got.map((g) => [g.seq, g.sentNs]));
        // c counts every frame it accepted, delivered or not: each one carried the heartbeat.
        const cc = lane(c.engine, 'L1');
        expect(cc.received).toBeGreaterThan(5);
        expect(cc.heartbeats).toBe(cc.received);
      });

      it('a larger incarnation restarts the sequence, a smaller one is dropped as old', async () => {
        const b = await node();
        const raw = await RawSender.open();
        try {
          b.engine.setReceiver(receiver('L1', 1, { heartbeat: { deliver: true } }));
          const frames: Buffer[] = [
            ...[0, 1, 2, 3].map((seq) => encodeHeartbeatFrame({ wireId: 1, seq: 100 + seq }, 1)),
            encodeHeartbeatFrame({ wireId: 1, seq: 0 }, 2, u32(42)), // restarted: seq 0 again
            encodeHeartbeatFrame({ wireId: 1, seq: 104 }, 1), // the previous life: old
            encodeHeartbeatFrame({ wireId: 1, seq: 1 }, 2),
            encodeFrame({ wireId: 1, seq: 2 }, u32(43)), // no heartbeat: sequence only
            encodeHeartbeatFrame({ wireId: 1, seq: 1 }, 2), // duplicate
          ];
          for (const f of frames) await raw.send(f, b.port);
          await waitFor(() => b.got.length + totalDropped(b.engine) === frames.length, 'every frame handled');
          expect(b.got.map((g) => [g.seq, g.heartbeat, g.payload.length])).toEqual([
            [100, 1, 0],
            [101, 1, 0],
            [102, 1, 0],
            [103, 1, 0],
            [0, 2, 4],
            [1, 2, 0],
            [2, -1, 4],
          ]);
          expect(b.engine.counters().dropped).toMatchObject({ old: 1, duplicate: 1 });
          expect(lane(b.engine, 'L1')).toMatchObject({ received: 7, heartbeats: 6, lost: 0 });
        } finally {
          await raw.close();
        }
      });

      it('suspects a lane that never sent, timeoutNs after setReceiver', async () => {
        const b = await node();
        const timeoutNs = 30_000_000;
        const before = monotonicNs();
        b.engine.setReceiver(receiver('L1', 1, { heartbeat: { timeoutNs } }));
        await waitFor(() => b.events.length >= 1, 'the suspicion');
        await new Promise((r) => setTimeout(r, 100));
        expect(b.events).toHaveLength(1);
        const e = b.events[0]!;
        expect(e).toMatchObject({ laneId: 'L1', state: 'suspect', incarnation: -1, lastArrivalNs: 0 });
        expect(e.atNs - before).toBeGreaterThanOrEqual(timeoutNs);
      });

      it('watchdog: alive on the first frame, one suspect after the sender stops, alive on a restart', async () => {
        const [a, b] = [await node(), await node()];
        const raw = await RawSender.open();
        try {
          // Far above any scheduling hiccup of a loaded 2-vCPU machine, so only a stopped sender is
          // suspected.
          const timeoutNs = 200_000_000;
          b.engine.setReceiver(receiver('L1', 1, { heartbeat: { deliver: true, timeoutNs } }));
          a.engine.setSender(hbSender([b.port], 1));
          await waitFor(() => b.got.length >= 5, 'heartbeats');
          expect(b.events[0]).toMatchObject({ laneId: 'L1', state: 'alive', incarnation: 1 });
          expect(b.events[0]!.atNs).toBe(b.got[0]!.receivedNs);

          const stoppedAt = b.events.length;
          a.engine.removeSender('L1');
          await waitFor(() => b.events.some((e) => e.state === 'suspect'), 'the suspicion');
          // Long enough for a second (wrong) suspicion to show: there is none.
          await new Promise((r) => setTimeout(r, (2 * timeoutNs) / 1e6));
          const after = b.events.slice(stoppedAt);
          expect(after.map((e) => e.state)).toEqual(['suspect']);
          const suspect = after[0]!;
          const last = b.got[b.got.length - 1]!;
          expect(suspect).toMatchObject({
            incarnation: 1,
            lastArrivalNs: last.arrivalNs,
            lastSentNs: last.sentNs,
          });
          expect(suspect.atNs - suspect.lastArrivalNs).toBeGreaterThanOrEqual(timeoutNs);
          const lastSeq = last.seq;

          // The sender process "restarts": a new incarnation, its sequence from 0 again.
          const restartAt = b.got.length;
          a.engine.setSender(hbSender([b.port], 2));
          await waitFor(() => b.events.length > stoppedAt + 1, 'the revival');
          expect(b.events[stoppedAt + 1]).toMatchObject({ state: 'alive', incarnation: 2 });
          await waitFor(() => b.got.length >= restartAt + 3, 'heartbeats of the new incarnation');
          expect(lastSeq).toBeGreaterThan(3);
          expect(b.got.slice(restartAt, restartAt + 3).map((g) => [g.seq, g.heartbeat])).toEqual([
            [0, 2],
            [1, 2],
            [2, 2],
          ]);
          // A straggler of the previous life is dropped, and the watch stays quiet.
          await raw.send(encodeHeartbeatFrame({ wireId: 1, seq: lastSeq + 1 }, 1), b.port);
          await waitFor(() => b.engine.counters().dropped.old === 1, 'the old frame dropped');
          expect(b.got.filter((g) => g.heartbeat === 1).every((g) => g.seq <= lastSeq)).toBe(true);
          expect(b.events.slice(stoppedAt + 2).filter((e) => e.state === 'suspect')).toEqual([]);
          expect(b.engine.counters().dropped.duplicate).toBe(0);
        } finally {
          await raw.close();
        }
      });
    });

    it('close() is idempotent and a closed engine refuses new lanes', async () => {
      const a = await node();
      a.engine.setSender(sender('L1', 1, [a.port]));
      await a.engine.close();
      await a.engine.close();
      expect(codeOf(() => a.engine.setSender(sender('L2', 2, [a.port])))).toMatch(/^XL_ERR_/);
      expect(codeOf(() => a.engine.send('L1', u32(1)))).toMatch(/^XL_ERR_/);
    });
  });
}
