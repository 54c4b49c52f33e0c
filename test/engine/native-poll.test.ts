// The native engine's 'poll' receive mode: the application's thread is the poller. Nothing is
// delivered until it calls poll(), handlers run inside poll(), and a frame whose boundary has
// passed leaves inside send(); one whose boundary is ahead is still sent on time by the engine
// thread.
import { afterEach, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/engine/native/addon.js';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import { createNativeEngine } from '../../src/engine/native/select.js';
import type { ReceiverSpec, SenderSpec } from '../../src/engine/types.js';
import { freeUdpPort, waitFor } from './helpers.js';

const LO = '127.0.0.1';
const load = loadNativeAddon();

const tx = (to: number, minPeriodNs: number): SenderSpec => ({
  laneId: 'L5',
  wireId: 5,
  epoch: 1,
  maxPayloadBytes: 64,
  minPeriodNs,
  policy: 'reject',
  dscp: 46,
  priority: 0,
  srcPort: 0,
  destinations: [{ host: 'b', address: LO, port: to }],
});
const rx: ReceiverSpec = {
  laneId: 'L5',
  wireId: 5,
  epoch: 1,
  senderAddress: LO,
  maxPayloadBytes: 64,
  lambdaMinNs: 0,
  lambdaMaxNs: 60e9,
};
const sent = (e: NativeEngine) => e.counters().lanes.find((l) => l.laneId === 'L5')?.sent ?? 0;

describe.skipIf(!load.ok)('native engine, receive mode poll', () => {
  const open: NativeEngine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
  });

  async function pair(minPeriodNs: number) {
    const a = createNativeEngine({ receive: 'poll' }).engine!;
    const b = createNativeEngine({ receive: 'poll' }).engine!;
    open.push(a, b);
    const portB = await freeUdpPort();
    await a.start({ bindAddress: LO, port: await freeUdpPort() });
    await b.start({ bindAddress: LO, port: portB });
    b.setReceiver(rx);
    a.setSender(tx(portB, minPeriodNs));
    const got: string[] = [];
    b.onDelivery((d) => got.push(Buffer.from(d.payload).toString()));
    // The lanes are set up by the first pass on each side.
    a.poll();
    b.poll();
    return { a, b, got };
  }

  it('delivers only inside poll(), and a due frame leaves inside send()', async () => {
    const { a, b, got } = await pair(1_000);
    a.send('L5', Buffer.from('one'));
    expect(sent(a)).toBe(1); // released before send() returned
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([]); // nobody polled b
    let read = 0;
    for (let i = 0; i < 1000 && read === 0; i++) read = b.poll();
    expect(read).toBe(1);
    expect(got).toEqual(['one']);
    expect(b.poll()).toBe(0);
  });

  it('a message whose boundary is ahead is sent at the boundary by the engine thread', async () => {
    const { a, b, got } = await pair(20_000_000);
    const sentAt: number[] = [];
    b.onDelivery((d) => {
      got.push(Buffer.from(d.payload).toString());
      sentAt.push(d.sentNs);
    });
    expect(a.send('L5', Buffer.from('first'))).toBe('queued');
    expect(sent(a)).toBe(1);
    expect(a.send('L5', Buffer.from('second'))).toBe('queued');
    expect(sent(a)).toBe(1); // 20 ms to its boundary; a is never polled again
    await waitFor(() => {
      b.poll();
      return got.length === 2;
    }, 'both messages');
    expect(got).toEqual(['first', 'second']);
    expect(sentAt[1]! - sentAt[0]!).toBeGreaterThanOrEqual(20_000_000);
  });
});
