import { afterEach, describe, expect, it } from 'vitest';
import type { EngineHandle } from '../../src/engine/native/addon.js';
import type { SharedBlock } from '../../src/engine/native/shared-block.js';
import { freeUdpPort, waitFor } from './helpers.js';
import { RAW_START_OPTIONS, rawEngines, skipReason } from './native-helpers.js';

const LO = '127.0.0.1';
const PERIOD_NS = 300_000_000;
const MAX_PAYLOAD = 8;

describe.skipIf(skipReason !== '')(`native engine send ring (raw addon) ${skipReason}`, () => {
  const raw = rawEngines();
  const { addon, engine } = raw;

  afterEach(() => raw.cleanup());

  /** A socket standing in for the peer: the payloads of the frames it got, in order. */
  async function peer() {
    const got: number[][] = [];
    // A DATA-only frame ends with its payload (native/wire.c); these payloads are 4 bytes.
    const port = await raw.peer((m) => got.push([...m.subarray(-4)]));
    return { port, got };
  }

  function sender(h: EngineHandle, to: number, reject: 0 | 1) {
    const fd = addon.openSender(LO, 0, 0, 0);
    addon.setSender(h, 0, 1, fd, 1, 1, MAX_PAYLOAD, PERIOD_NS, [LO, to], -1, 0, reject, -1);
  }

  function push(h: EngineHandle, block: SharedBlock, ticket: number, payload: number[]) {
    const position = block.push(0, 1, ticket, Uint8Array.from(payload));
    addon.wake(h);
    return position;
  }

  const stat = (block: SharedBlock, word: number) => block.txStat(0, word);

  it('a request refused while a message waits never moves `released` back: the waiting one publishes the newer ticket', async () => {
    const { h, block } = await engine();
    const { port, got } = await peer();
    const L = addon.layout;
    sender(h, port, 0);
    push(h, block, 1, [1, 1, 1, 1]);
    await waitFor(() => block.released(0) === 1, 'the first frame (no boundary yet)');
    const p2 = push(h, block, 2, [2, 2, 2, 2]);
    await waitFor(() => block.taken(p2), 'the second request taken');
    // Over σ_max: refused. Its ticket published now would say "nothing waits" while 2 does.
    const p3 = push(h, block, 3, new Array(MAX_PAYLOAD + 4).fill(3));
    await waitFor(() => block.taken(p3), 'the oversized request taken');
    expect(stat(block, L.TS_REFUSED)).toBe(1);
    expect(block.released(0)).toBe(1);
    const seen: number[] = [];
    await waitFor(() => {
      const r = block.released(0);
      if (seen.at(-1) !== r) seen.push(r);
      return r !== 1;
    }, 'the waiting message released at its boundary');
    // Published once the waiting message left, and never followed by an older ticket.
    await new Promise((r) => setTimeout(r, 20));
    seen.push(block.released(0));
    expect(seen).toEqual([1, 3, 3]);
    await waitFor(() => got.length === 2, 'two frames at the peer');
    expect(got).toEqual([
      [1, 1, 1, 1],
      [2, 2, 2, 2],
    ]);
    expect(stat(block, L.TS_SENT)).toBe(2);
  });

  it("policy 'reject' is enforced by the engine: a request written into the ring while a message waits is refused, not coalesced", async () => {
    const { h, block } = await engine();
    const { port, got } = await peer();
    const L = addon.layout;
    sender(h, port, 1);
    push(h, block, 1, [1, 1, 1, 1]);
    await waitFor(() => block.released(0) === 1, 'the first frame');
    const p2 = push(h, block, 2, [2, 2, 2, 2]);
    await waitFor(() => block.taken(p2), 'the second request taken');
    const p3 = push(h, block, 3, [3, 3, 3, 3]);
    await waitFor(() => block.taken(p3), 'the third request taken');
    expect(stat(block, L.TS_REFUSED)).toBe(1);
    expect(stat(block, L.TS_COALESCED)).toBe(0);
    expect(block.released(0)).toBe(1);
    await waitFor(() => got.length === 2, 'the waiting message at its boundary');
    // The message that waited is the one sent; `released` ends at the newest ticket.
    expect(got[1]).toEqual([2, 2, 2, 2]);
    await waitFor(() => block.released(0) === 3, 'the newest ticket released');
    // A coalescing lane replaces it instead (the same request, the other policy).
    sender(h, port, 0);
    const p4 = push(h, block, 4, [4, 4, 4, 4]);
    await waitFor(() => block.taken(p4), 'the fourth request taken');
    const p5 = push(h, block, 5, [5, 5, 5, 5]);
    await waitFor(() => block.taken(p5), 'the fifth request taken');
    expect(stat(block, L.TS_COALESCED)).toBe(1);
    await waitFor(() => got.length === 3, 'the coalesced message at its boundary');
    expect(got[2]).toEqual([5, 5, 5, 5]);
  });

  it('refuses numbers C cannot hold and a σ_max larger than a delivery-ring slot', async () => {
    const [h] = addon.create();
    raw.onCleanup(() => addon.stop(h));
    addon.openReceiver(h, LO, await freeUdpPort());
    for (const bad of [
      { fifoBreakNs: Number.NaN },
      { fifoBreakNs: 0 },
      { spinNs: Number.POSITIVE_INFINITY },
      { idleSpinNs: -1 },
      { fifoSliceNs: 1e300 },
      { fifoPriority: 100 },
    ])
      expect(() => addon.start(h, { ...RAW_START_OPTIONS, ...bad }, () => {}), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'XL_NATIVE_ARGS' }),
      );
    addon.start(h, RAW_START_OPTIONS, () => {});
    const fd = addon.openSender(LO, 0, 0, 0);
    raw.onCleanup(() => addon.closeFd(fd));
    const setSender = (over: {
      maxPayload?: number;
      minPeriodNs?: number;
      fd?: number;
      reject?: number;
      phaseNs?: number;
    }) =>
      addon.setSender(
        h,
        0,
        1,
        over.fd ?? fd,
        1,
        1,
        over.maxPayload ?? 8,
        over.minPeriodNs ?? PERIOD_NS,
        [LO, 9],
        -1,
        0,
        over.reject ?? 0,
        over.phaseNs ?? -1,
      );
    for (const bad of [
      { minPeriodNs: Number.NaN },
      { minPeriodNs: 0 },
      { minPeriodNs: 2 ** 64 },
      // Above 2^60 ns a boundary (a monotonic time plus the period) could leave int64.
      { minPeriodNs: 2 ** 61 },
      { fd: Number.POSITIVE_INFINITY },
      { maxPayload: addon.layout.MAX_PAYLOAD + 1 },
      { reject: 2 },
      { phaseNs: -2 },
      { phaseNs: PERIOD_NS },
      { phaseNs: Number.NaN },
    ])
      expect(() => setSender(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const setReceiver = (maxPayload: number, timeoutNs = 0) =>
      addon.setReceiver(h, 0, 1, 1, 1, LO, maxPayload, 0, 1e9, 0, timeoutNs, 1);
    // A larger σ_max would let a datagram's payload run past its delivery-ring slot.
    expect(() => setReceiver(addon.layout.MAX_PAYLOAD + 1)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
    expect(() => setReceiver(8, Number.NaN)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    setSender({ minPeriodNs: 2 ** 60 });
    expect(() => addon.openReceiver(h, LO, 1e20)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    setReceiver(addon.layout.MAX_PAYLOAD);
  });

  it('a send-ring head far beyond what push() writes costs the engine one ring, not 2^31 slots', async () => {
    const { h, block } = await engine();
    const { port, got } = await peer();
    const L = addon.layout;
    sender(h, port, 0);
    // Before: the engine thread walked every slot up to it, 3.6 s with every lane late.
    const far = 0x7fffffff;
    Atomics.store(block.i32, L.W_TX_HEAD, far);
    addon.wake(h);
    await waitFor(() => Atomics.load(block.i32, L.W_TX_TAIL) === far, 'the engine caught up', 1000);
    // The stale slots it looked at belong to no lane; the ring works on from there.
    expect(stat(block, L.TS_SENT)).toBe(0);
    push(h, block, 1, [9, 9, 9, 9]);
    await waitFor(() => got.length === 1, 'the frame at the peer');
    expect(got[0]).toEqual([9, 9, 9, 9]);
  });

  it('a liveness timeout too long for int64 deadlines means never: no suspicion', async () => {
    const { h, block } = await engine();
    // Before: the deadline (a monotonic time plus the timeout) wrapped negative, and the watchdog
    // suspected the lane at once (UBSan: signed integer overflow in silence_deadline).
    addon.setReceiver(h, 0, 1, 1, 1, LO, 8, 0, 1e9, 0, 2 ** 63 - 1024, 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(Atomics.load(block.i32, addon.layout.W_RX_HEAD)).toBe(0);
  });
});
