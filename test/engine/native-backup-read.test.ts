// The backup reader keeps a host's receiving going while its engine thread's CPU is stalled. A
// SCHED_FIFO 99 busy loop pinned to the receiving engine thread's CPU for 120 ms stands in for a
// hypervisor that stops that vCPU: without a backup the frames wait in the socket for the whole
// stall (their host delay, kernel stamp → engine, grows to ~120 ms); with the backup reading from
// the other CPU they are taken within a few of its looks.
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import { validateNativeEngineOptions } from '../../src/engine/native/engine.js';
import { heartbeatReceiver, heartbeatSender, waitFor } from './helpers.js';
import { allowedCpus, hogCpu, stallSkipReason, startPinned } from './native-helpers.js';

const PERIOD_NS = 2_000_000;
const HOG_MS = 120;
const READ_US = 200;
const cpus = allowedCpus();
const why = stallSkipReason(cpus);

describe('backupReadUs options', () => {
  it('needs a backup CPU, and not the application-polled mode', () => {
    expect(() => validateNativeEngineOptions({ backupReadUs: 100 })).toThrow(/needs backupCore/);
    expect(() => validateNativeEngineOptions({ backupCore: 0, backupReadUs: 100, receive: 'poll' })).toThrow(
      /does not apply to receive 'poll'/,
    );
    expect(() => validateNativeEngineOptions({ backupCore: 0, backupReadUs: 5 })).toThrow(/backupReadUs/);
    expect(() => validateNativeEngineOptions({ backupCore: 0, backupReadUs: 100 })).not.toThrow();
  });
});

describe.skipIf(why !== '')(`the native backup reader ${why}`, () => {
  const open: NativeEngine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
  });

  async function stalledReceiver(backup: boolean) {
    const [engineCpu, otherCpu] = [cpus[0]!, cpus[1]!];
    const { engine: rx, port: rxPort } = await startPinned(
      open,
      { receive: 'blocking', ...(backup ? { backupCore: otherCpu, backupReadUs: READ_US } : {}) },
      engineCpu,
    );
    const { engine: tx } = await startPinned(open, { receive: 'blocking' }, otherCpu);
    // Host delay of each frame: kernel receive stamp → the engine's read (by either thread).
    const hostDelays: number[] = [];
    rx.onDelivery((d) => {
      hostDelays.push(d.receivedNs - d.kernelReceivedNs!);
    });
    rx.setReceiver(heartbeatReceiver({ wireId: 3 }));
    tx.setSender(heartbeatSender(rxPort, { wireId: 3, periodNs: PERIOD_NS, dscp: 46 }));
    await waitFor(() => hostDelays.length >= 10, 'heartbeats');
    const from = hostDelays.length;
    await hogCpu(engineCpu, HOG_MS);
    await new Promise((r) => setTimeout(r, 50));
    const during = hostDelays.slice(from);
    return { rx, frames: during.length, maxHostDelayNs: Math.max(...during) };
  }

  it('without it, the frames wait in the socket for the whole stall', async () => {
    const { frames, maxHostDelayNs, rx } = await stalledReceiver(false);
    expect(frames).toBeGreaterThan(HOG_MS / (PERIOD_NS / 1e6) / 2);
    expect(maxHostDelayNs).toBeGreaterThan((HOG_MS / 2) * 1e6);
    expect(rx.engineStats().backupReads).toBe(0);
  }, 20_000);

  it('with it, the other CPU reads them within a few looks', async () => {
    const { frames, maxHostDelayNs, rx } = await stalledReceiver(true);
    expect(frames).toBeGreaterThan(HOG_MS / (PERIOD_NS / 1e6) / 2);
    // Two looks (2 × 200 µs) after a frame arrived, plus the machine's wake-up noise: far below
    // the stall either way.
    expect(maxHostDelayNs).toBeLessThan((HOG_MS / 4) * 1e6);
    // Most of the stall's frames were the backup's.
    expect(rx.engineStats().backupReads).toBeGreaterThanOrEqual(10);
  }, 20_000);
});
