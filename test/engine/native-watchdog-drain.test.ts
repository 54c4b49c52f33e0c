// Before it suspects anyone, the watchdog reads whatever the socket holds, and judges by the
// kernel's receive stamps: heartbeats that arrived in time while the engine thread was off its CPU
// clear their sender. It must read all of them, not one. The usual receive pass asks the kernel for
// a single datagram after a pass that found the socket empty (engine_rx.c), so a drain that went
// through it read only the oldest heartbeat and suspected a live sender.
//
// Deterministic setup: receive mode 'poll', so the engine thread never reads the socket itself and
// the application's last poll() left it empty; then a SCHED_FIFO 99 loop stalls the engine thread's
// CPU for longer than the timeout while the sender goes on from the other CPU. When the engine
// thread runs again its first read is the watchdog's drain.
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import type { LivenessEvent } from '../../src/engine/types.js';
import { heartbeatReceiver, heartbeatSender, waitFor } from './helpers.js';
import { allowedCpus, hogCpu, stallSkipReason, startPinned } from './native-helpers.js';

const PERIOD_NS = 2_000_000;
const TIMEOUT_NS = 30_000_000;
// Four timeouts: whatever its phase, the stall ends long past the last read heartbeat's deadline.
const HOG_MS = 120;
const cpus = allowedCpus();
const why = stallSkipReason(cpus);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(why !== '')(`the watchdog's drain after a stall ${why}`, () => {
  const open: NativeEngine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
  });

  it('reads every heartbeat that waited, so a sender that went on is not suspected; a silent one is', async () => {
    const [engineCpu, otherCpu] = [cpus[0]!, cpus[1]!];
    const { engine: rx, port } = await startPinned(open, { receive: 'poll' }, engineCpu);
    const { engine: tx } = await startPinned(open, { receive: 'blocking' }, otherCpu);
    const events: LivenessEvent[] = [];
    let heartbeats = 0;
    // The engine reuses the event object: keep copies.
    rx.onLiveness((e) => events.push({ ...e }));
    rx.onDelivery(() => {
      heartbeats++;
    });
    rx.setReceiver(heartbeatReceiver({ wireId: 5, timeoutNs: TIMEOUT_NS }));
    tx.setSender(heartbeatSender(port, { wireId: 5, periodNs: PERIOD_NS }));
    const pollFor = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        while (rx.poll() > 0) {}
        await sleep(1);
      }
    };
    await pollFor(100);
    await waitFor(() => {
      while (rx.poll() > 0) {}
      return heartbeats >= 10 && events.some((e) => e.state === 'alive');
    }, 'heartbeats, and the sender alive');
    // The socket is empty now and nothing polls it during the stall.
    while (rx.poll() > 0) {}
    const before = heartbeats;
    await hogCpu(engineCpu, HOG_MS);
    await pollFor(3 * (TIMEOUT_NS / 1e6));
    expect(events.filter((e) => e.state === 'suspect')).toEqual([]);
    // The sender did go on through the stall (a period of 2 ms: 60 heartbeats in 120 ms).
    expect(heartbeats - before).toBeGreaterThan(HOG_MS / (PERIOD_NS / 1e6) / 2);

    // The check is not blind: with the sender gone, the receiver is suspected within a few timeouts.
    tx.removeSender('HB');
    await waitFor(() => {
      while (rx.poll() > 0) {}
      return events.some((e) => e.state === 'suspect');
    }, 'the suspicion of a stopped sender');
  }, 30_000);
});
