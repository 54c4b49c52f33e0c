// DeliveryView.kernelReceivedNs: the native engine reports the kernel's receive stamp
// (SO_TIMESTAMPNS mapped onto CLOCK_MONOTONIC), the js engine reports it unknown (0 or absent).
// One engine sends a lane to its own port, so sender, kernel and engine share one clock and the
// three stamps must come in order: sent ≤ kernel ≤ received.
import { afterEach, describe, expect, it } from 'vitest';
import { createJsEngine } from '../../src/engine/js/engine.js';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import type { Engine } from '../../src/engine/types.js';
import { freeUdpPort, LOOPBACK_RECEIVER_L1, loopbackSenderL1, waitFor } from './helpers.js';
import { nativeEngine, skipReason } from './native-helpers.js';

interface Stamps {
  sentNs: number;
  kernelReceivedNs: number | undefined;
  receivedNs: number;
}

const N = 20;
let engine: Engine | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

/** Starts `e` on a free loopback port with lane L1 to itself, sends N messages one at a time (each
 * after the previous one arrived, so none is coalesced) and returns their stamps. */
async function selfLane(e: Engine): Promise<Stamps[]> {
  engine = e;
  const port = await freeUdpPort();
  await e.start({ bindAddress: '127.0.0.1', port });
  const got: Stamps[] = [];
  e.onDelivery((d) =>
    got.push({ sentNs: d.sentNs, kernelReceivedNs: d.kernelReceivedNs, receivedNs: d.receivedNs }),
  );
  e.setReceiver({ ...LOOPBACK_RECEIVER_L1, lambdaMaxNs: 60e9 });
  e.setSender(loopbackSenderL1(port));
  for (let i = 0; i < N; i++) {
    e.send('L1', Buffer.from([i]));
    await waitFor(() => got.length > i, `delivery ${i}`);
  }
  return got;
}

describe.skipIf(skipReason !== '')('kernel receive stamps: native engine', () => {
  it.each(['busy-poll', 'blocking'] as const)(
    '%s: 0 < sentNs ≤ kernelReceivedNs ≤ receivedNs',
    async (receive) => {
      const e = nativeEngine({ receive });
      const got = await selfLane(e);
      expect(got).toHaveLength(N);
      for (const s of got) {
        expect(s.kernelReceivedNs).toBeGreaterThan(0);
        expect(s.kernelReceivedNs).toBeGreaterThanOrEqual(s.sentNs);
        expect(s.kernelReceivedNs).toBeLessThanOrEqual(s.receivedNs);
        // A mapping gone wrong (realtime left in, offset applied twice) is off by decades, not by 1 s.
        expect(s.receivedNs - s.kernelReceivedNs!).toBeLessThan(1e9);
      }
      // The host delay statistics are fed from the same stamps.
      expect((e as NativeEngine).engineStats().hostDelay.count).toBeGreaterThanOrEqual(N);
    },
  );
});

describe('kernel receive stamps: js engine', () => {
  it('reports them unknown: Node dgram gives no kernel stamp', async () => {
    const got = await selfLane(createJsEngine());
    expect(got).toHaveLength(N);
    expect(got.every((s) => (s.kernelReceivedNs ?? 0) === 0)).toBe(true);
    expect(got.every((s) => s.receivedNs >= s.sentNs)).toBe(true);
  });
});
