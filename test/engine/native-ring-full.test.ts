// Liveness must not wait for the application. The native engine hands deliveries to JS through a
// ring; when JS stops draining it, the engine used to stop reading its socket (back-pressure), and
// its watchdog — which judges what the engine thread reads — then suspected a live sender. With a
// watched lane it now reads on: no false suspicion, and the deliveries it had no room for are
// dropped and counted.
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import type { LivenessEvent, ReceiverSpec, SenderSpec } from '../../src/engine/types.js';
import { freeUdpPort, heartbeatReceiver, heartbeatSender, waitFor } from './helpers.js';
import { nativeEngine, skipReason } from './native-helpers.js';

const LO = '127.0.0.1';

describe.skipIf(skipReason !== '')(`a native receiver whose JS thread stalls ${skipReason}`, () => {
  const open: NativeEngine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
  });

  async function started(): Promise<{ engine: NativeEngine; port: number }> {
    const engine = nativeEngine({ receive: 'blocking' });
    open.push(engine);
    const port = await freeUdpPort();
    await engine.start({ bindAddress: LO, port });
    return { engine, port };
  }

  it('keeps judging liveness: no false suspicion; the deliveries without room are dropped and counted', async () => {
    const a = await started();
    const b = await started();
    const events: LivenessEvent[] = [];
    let delivered = 0;
    b.engine.onLiveness((e) => events.push({ ...e }));
    b.engine.onDelivery(() => {
      delivered++;
    });
    // Far above a loaded machine's scheduling hiccups, far below the stall below.
    const timeoutNs = 300_000_000;
    const rx: ReceiverSpec = {
      laneId: 'L1',
      wireId: 1,
      epoch: 1,
      senderAddress: LO,
      maxPayloadBytes: 64,
      lambdaMinNs: 0,
      lambdaMaxNs: 60e9,
      heartbeat: { deliver: true, timeoutNs },
    };
    const tx: SenderSpec = {
      laneId: 'L1',
      wireId: 1,
      epoch: 1,
      maxPayloadBytes: 64,
      minPeriodNs: 100_000,
      policy: 'reject',
      dscp: 46,
      priority: 0,
      srcPort: 0,
      destinations: [{ host: 'b', address: LO, port: b.port }],
      heartbeat: { incarnation: 1 },
    };
    b.engine.setReceiver(rx);
    a.engine.setSender(tx);
    await waitFor(() => events.some((e) => e.state === 'alive'), 'the sender alive');

    // This (the JS) thread stalls for 1.5 s: ~15,000 heartbeats against a ring of ~340
    // deliveries, and five times TO. Both engine threads run on.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_500);
    const after = delivered;
    await waitFor(() => delivered > after + 20, 'deliveries again');

    expect(events.filter((e) => e.state === 'suspect')).toEqual([]);
    expect(b.engine.engineStats().ringFullDrops).toBeGreaterThan(1_000);
    // It never stopped reading for want of room.
    expect(b.engine.engineStats().ringFullWaits).toBe(0);
  }, 20_000);

  it('without a liveness watch it leaves the datagrams in the socket, and counts each such pass', async () => {
    const a = await started();
    const b = await started();
    let delivered = 0;
    b.engine.onDelivery(() => {
      delivered++;
    });
    b.engine.setReceiver(heartbeatReceiver({ laneId: 'L2', wireId: 2 }));
    a.engine.setSender(heartbeatSender(b.port, { laneId: 'L2', wireId: 2, periodNs: 100_000, dscp: 46 }));
    await waitFor(() => delivered > 10, 'deliveries');
    expect(b.engine.engineStats().ringFullWaits).toBe(0);
    // ~5,000 heartbeats against a ring of ~340 deliveries: the ring fills, the engine waits.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    const after = delivered;
    await waitFor(() => delivered > after + 20, 'deliveries again');
    const s = b.engine.engineStats();
    expect(s.ringFullWaits).toBeGreaterThan(0);
    expect(s.ringFullDrops).toBe(0);
  }, 20_000);
});
