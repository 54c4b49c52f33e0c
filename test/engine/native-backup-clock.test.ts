// The backup clock keeps a host's heartbeats going while its engine thread's CPU is stalled. A
// SCHED_FIFO 99 busy loop pinned to the engine thread's CPU for 120 ms stands in for a hypervisor
// that stops that vCPU (docs/fd.md): without a backup the lane goes silent and its receiver suspects
// the sender; with the backup on the other CPU the frames keep coming and nobody is suspected.
import { afterEach, describe, expect, it } from 'vitest';
import { arrivalNs } from '../../src/engine/arrival.js';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import type { LivenessEvent } from '../../src/engine/types.js';
import { freeUdpPort, heartbeatReceiver, heartbeatSender, waitFor } from './helpers.js';
import {
  allowedCpus,
  hogCpu,
  nativeEngine,
  stallSkipReason,
  startPinned,
  taskField,
} from './native-helpers.js';

const LO = '127.0.0.1';
const PERIOD_NS = 5_000_000;
const TIMEOUT_NS = 40_000_000;
const HOG_MS = 120;
const cpus = allowedCpus();
const why = stallSkipReason(cpus);

describe.skipIf(why !== '')(`the native backup clock ${why}`, () => {
  const open: NativeEngine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
  });

  async function stalledSender(backup: boolean) {
    const [engineCpu, otherCpu] = [cpus[0]!, cpus[1]!];
    const { engine: rx, port: rxPort } = await startPinned(open, { receive: 'blocking' }, otherCpu);
    const { engine: tx } = await startPinned(
      open,
      { receive: 'blocking', ...(backup ? { backupCore: otherCpu } : {}) },
      engineCpu,
    );
    const events: LivenessEvent[] = [];
    const arrivals: number[] = [];
    rx.onLiveness((e) => events.push({ ...e }));
    rx.onDelivery((d) => {
      arrivals.push(arrivalNs(d));
    });
    rx.setReceiver(heartbeatReceiver({ wireId: 3, timeoutNs: TIMEOUT_NS }));
    tx.setSender(heartbeatSender(rxPort, { wireId: 3, periodNs: PERIOD_NS, dscp: 46 }));
    await waitFor(() => arrivals.length >= 10, 'heartbeats');
    const from = arrivals.length;
    await hogCpu(engineCpu, HOG_MS);
    await new Promise((r) => setTimeout(r, 100));
    let maxGapNs = 0;
    for (let i = from; i < arrivals.length; i++)
      maxGapNs = Math.max(maxGapNs, arrivals[i]! - arrivals[i - 1]!);
    return { tx, events, maxGapNs };
  }

  it('runs pinned to its own CPU, at the engine thread’s priority', async () => {
    const [a, b] = [cpus[0]!, cpus[1]!];
    const e = nativeEngine({ receive: 'blocking', backupCore: b, fifoPriority: 10 });
    open.push(e);
    await e.start({ bindAddress: LO, port: await freeUdpPort(), core: a });
    const r = e.thread()!;
    expect(r.backupTid).toBeGreaterThan(0);
    expect(r.backupTid).not.toBe(r.tid);
    expect(taskField(r.backupTid!, 'Cpus_allowed_list')).toBe(String(b));
    expect(r.backupPinned).toBe(1);
    await e.close();
  });

  it('refuses a backup CPU this process may not use', async () => {
    const e = nativeEngine({ backupCore: Math.max(...cpus) + 1 });
    open.push(e);
    await expect(e.start({ bindAddress: LO, port: await freeUdpPort() })).rejects.toMatchObject({
      code: 'XL_ERR_VALIDATION',
    });
  });

  it('without it, a stalled engine CPU silences the lane and the sender is suspected', async () => {
    const { events, maxGapNs } = await stalledSender(false);
    expect(maxGapNs).toBeGreaterThan(TIMEOUT_NS);
    expect(events.some((e) => e.state === 'suspect')).toBe(true);
  }, 20_000);

  it('with it, the heartbeats go on from the other CPU and nobody is suspected', async () => {
    const { tx, events, maxGapNs } = await stalledSender(true);
    expect(events.filter((e) => e.state === 'suspect')).toEqual([]);
    // A frame at least every period + the backup's delay, give or take the machine's wake-ups.
    expect(maxGapNs).toBeLessThan(TIMEOUT_NS / 2);
    // ~HOG_MS / period of them came from the backup.
    expect(tx.engineStats().backupReleases).toBeGreaterThanOrEqual(10);
  }, 20_000);
});
