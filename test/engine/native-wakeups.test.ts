// "A receive batch wakes JS at most once, and not at all while JS has not answered the last
// wake-up" (native-engine.md, the delivery ring), read from engineStats(): jsWakeups counts the
// threadsafe-function calls, rxBatches the batches pushed into the delivery ring.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { monotonicNs } from '../../src/engine/clock.js';
import type { NativeEngine, NativeEngineStats } from '../../src/engine/native/engine.js';
import { encodeFrame, freeUdpPort, RawSender, waitFor } from './helpers.js';
import { nativeEngine, skipReason } from './native-helpers.js';

/** More than a recvmmsg batch (32) holds several times over, and less than the delivery ring's
 * room (1024 slots / 3 per datagram), so the engine never stops reading for want of room. */
const N = 256;
const BATCH = 32;

let engine: NativeEngine | undefined;
let sender: RawSender | undefined;
afterEach(async () => {
  await engine?.close();
  await sender?.close();
  engine = sender = undefined;
});

const frames = (from: number) =>
  Array.from({ length: N }, (_, i) =>
    encodeFrame({ wireId: 1, seq: from + i, sentNs: monotonicNs() }, Buffer.from([i & 0xff])),
  );

/** A busy-poll receiver of lane L1 from 127.0.0.1, warmed up by one delivered frame, so the
 * counts that follow start from an idle engine whose JS side has answered every wake-up. */
async function receiver(): Promise<{ port: number; delivered: () => number; received: () => number }> {
  engine = nativeEngine({ receive: 'busy-poll' });
  const port = await freeUdpPort();
  await engine.start({ bindAddress: '127.0.0.1', port });
  let delivered = 0;
  engine.onDelivery(() => delivered++);
  engine.setReceiver({
    laneId: 'L1',
    wireId: 1,
    epoch: 1,
    senderAddress: '127.0.0.1',
    maxPayloadBytes: 16,
    lambdaMinNs: 0,
    lambdaMaxNs: 60e9,
  });
  sender = await RawSender.open();
  await sender.send(encodeFrame({ wireId: 1, seq: 0 }, Buffer.from('warm')), port);
  await waitFor(() => delivered === 1, 'the warm-up delivery');
  const e = engine;
  return {
    port,
    delivered: () => delivered - 1,
    received: () => e.counters().lanes.find((l) => l.laneId === 'L1')!.received - 1,
  };
}

const delta = (a: NativeEngineStats, b: NativeEngineStats) => ({
  jsWakeups: b.jsWakeups - a.jsWakeups,
  rxBatches: b.rxBatches - a.rxBatches,
});

describe.skipIf(skipReason !== '')('native engine: JS wake-ups per receive batch', () => {
  it(`a burst of ${N} datagrams wakes JS fewer times than datagrams, never more than batches`, async () => {
    const rx = await receiver();
    const before = engine!.engineStats();
    // Sent in one synchronous stretch of this thread; the engine reads them as they come.
    await Promise.all(frames(1).map((f) => sender!.send(f, rx.port)));
    await waitFor(() => rx.delivered() === N, `${N} deliveries (have ${rx.delivered()})`);
    const d = delta(before, engine!.engineStats());
    expect(d.rxBatches).toBeGreaterThanOrEqual(N / BATCH);
    expect(d.jsWakeups).toBeGreaterThanOrEqual(1);
    expect(d.jsWakeups).toBeLessThanOrEqual(d.rxBatches);
    // Woken per datagram, this would be N.
    expect(d.jsWakeups).toBeLessThan(N);
  });

  it('while JS does not answer, however many batches come, it is woken exactly once', async () => {
    const rx = await receiver();
    // Another thread sends, so this one can stay busy (never returning to the event loop, where
    // the wake-up would run the drain) until the engine has read the whole burst.
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const s = require('node:dgram').createSocket('udp4');
       s.bind(0, '127.0.0.1', () => parentPort.postMessage('ready'));
       parentPort.on('message', () => {
         let left = workerData.frames.length;
         for (const f of workerData.frames) s.send(f, workerData.port, '127.0.0.1', () => {
           if (--left === 0) s.close(() => parentPort.close());
         });
       });`,
      { eval: true, workerData: { port: rx.port, frames: frames(1).map((f) => new Uint8Array(f)) } },
    );
    try {
      await new Promise((r) => worker.once('message', r));
      const before = engine!.engineStats();
      worker.postMessage('go');
      const deadline = performance.now() + 5_000;
      while (rx.received() < N && performance.now() < deadline) {}
      const read = rx.received();
      const blocked = delta(before, engine!.engineStats());
      expect(read, 'the engine read the whole burst while JS was busy').toBe(N);
      expect(blocked.rxBatches).toBeGreaterThanOrEqual(N / BATCH);
      expect(blocked.jsWakeups).toBe(1);
      // That one wake-up delivers everything, and nothing more is asked of JS.
      await waitFor(() => rx.delivered() === N, `${N} deliveries (have ${rx.delivered()})`);
      expect(delta(before, engine!.engineStats())).toEqual(blocked);
    } finally {
      await worker.terminate();
    }
  });
});
