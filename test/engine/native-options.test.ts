// What the native engine checks on the JS side before C sees it: the engine options (a NaN or a
// zero break would silently change what the engine thread does), and a lane change the addon
// refuses, which must leave no socket behind and the lane as the engine still runs it.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeAddon } from '../../src/engine/native/addon.js';
import { NativeEngine, type NativeEngineOptions } from '../../src/engine/native/engine.js';
import type { SenderSpec } from '../../src/engine/types.js';
import { freeUdpPort, waitFor } from './helpers.js';
import { nativeLoad, skipReason } from './native-helpers.js';

const LO = '127.0.0.1';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe.skipIf(skipReason !== '')(`native engine options and refused lane changes ${skipReason}`, () => {
  const addon = nativeLoad.ok ? nativeLoad.addon : (undefined as unknown as NativeAddon);
  const open: NativeEngine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
  });

  it('refuses engine options out of range with XL_ERR_VALIDATION', () => {
    const bad: NativeEngineOptions[] = [
      { fifoBreakUs: 0 },
      { fifoBreakUs: Number.NaN },
      { fifoSliceUs: Number.POSITIVE_INFINITY },
      { fifoSliceUs: 0 },
      // Under 5 % off the CPU: the kernel throttles the thread anyway.
      { fifoSliceUs: 2000, fifoBreakUs: 100 },
      { spinUs: -1 },
      { spinUs: Number.NaN },
      { spinUs: 'Auto' as NativeEngineOptions['spinUs'] },
      { maxSpinUs: -1 },
      { maxSpinUs: 20_000 },
      // A fixed margin has nothing to bound.
      { spinUs: 30, maxSpinUs: 50 },
      { idleSpinUs: -5 },
      { fifoPriority: 0 },
      { fifoPriority: 1.5 },
      { fifoPriority: 100 },
      { receive: 'sometimes' as NativeEngineOptions['receive'] },
      { lockMemory: 'yes' as unknown as boolean },
      { backupCore: -1 },
      { backupCore: 0.5 },
      { backupDelayUs: -1 },
    ];
    for (const o of bad)
      expect(
        codeOf(() => new NativeEngine(addon, o)),
        JSON.stringify(o),
      ).toBe('XL_ERR_VALIDATION');
    const good: NativeEngineOptions[] = [
      {},
      { fifoPriority: 10, fifoSliceUs: 1900, fifoBreakUs: 100 },
      { spinUs: 0, idleSpinUs: 0 },
      { spinUs: 150, receive: 'poll', lockMemory: false },
      { spinUs: 'auto', maxSpinUs: 0 },
      { maxSpinUs: 250 },
      { backupCore: 1, backupDelayUs: 0 },
    ];
    for (const o of good)
      expect(
        codeOf(() => new NativeEngine(addon, o)),
        JSON.stringify(o),
      ).toBeUndefined();
  });

  /** An engine whose addon records the sockets it opens for lanes. */
  async function engineWithSockets() {
    const fds: number[] = [];
    // The addon's functions are read-only properties (a Proxy may not change them): shadow one.
    const spy = Object.create(addon) as NativeAddon;
    Object.defineProperty(spy, 'openSender', {
      value: (...a: Parameters<NativeAddon['openSender']>) => {
        const fd = addon.openSender(...a);
        fds.push(fd);
        return fd;
      },
    });
    const e = new NativeEngine(spy, { receive: 'blocking' });
    open.push(e);
    const port = await freeUdpPort();
    await e.start({ bindAddress: LO, port });
    const got: number[] = [];
    e.onDelivery((d) => got.push(d.payload[0]!));
    e.setReceiver({
      laneId: 'L1',
      wireId: 1,
      epoch: 1,
      senderAddress: LO,
      maxPayloadBytes: 8,
      lambdaMinNs: 0,
      lambdaMaxNs: 1e12,
    });
    const spec = (over: Partial<SenderSpec> = {}): SenderSpec => ({
      laneId: 'L1',
      wireId: 1,
      epoch: 1,
      maxPayloadBytes: 8,
      minPeriodNs: 1_000_000,
      policy: 'coalesce',
      dscp: 0,
      priority: 0,
      srcPort: 0,
      destinations: [{ host: 'self', address: LO, port }],
      ...over,
    });
    return { e, fds, got, spec, port };
  }

  // glibc's inet_pton refuses a leading zero that the spec's IPv4 pattern lets through: the addon
  // throws after the lane's socket is already open.
  const refusedDestination = [{ host: 'self', address: '127.0.0.01', port: 9 }];

  it('a new lane the addon refuses: its socket is closed and the lane is not left registered', async () => {
    const { e, fds, got, spec } = await engineWithSockets();
    expect(codeOf(() => e.setSender(spec({ destinations: refusedDestination })))).toBe('XL_ERR_VALIDATION');
    expect(fds).toHaveLength(1);
    expect(existsSync(`/proc/self/fd/${fds[0]}`)).toBe(false);
    expect(codeOf(() => e.send('L1', Buffer.from([1])))).toBe('XL_ERR_UNKNOWN_LANE');
    expect(codeOf(() => e.senderSocketOptions('L1'))).toBe('XL_ERR_UNKNOWN_LANE');
    // The same lane opened properly afterwards works.
    e.setSender(spec());
    expect(e.send('L1', Buffer.from([7]))).toBe('queued');
    await waitFor(() => got.length === 1, 'the delivery');
    expect(got).toEqual([7]);
  });

  it('a change of a running lane the addon refuses: the new socket is closed, the lane keeps its old one and sends', async () => {
    const { e, fds, got, spec } = await engineWithSockets();
    e.setSender(spec());
    const oldPort = e.senderSocketOptions('L1').port;
    const newPort = await freeUdpPort();
    expect(
      codeOf(() => e.setSender(spec({ srcPort: newPort, epoch: 2, destinations: refusedDestination }))),
    ).toBe('XL_ERR_VALIDATION');
    expect(fds).toHaveLength(2);
    expect(existsSync(`/proc/self/fd/${fds[1]}`)).toBe(false);
    expect(existsSync(`/proc/self/fd/${fds[0]}`)).toBe(true);
    expect(e.senderSocketOptions('L1').port).toBe(oldPort);
    expect(e.send('L1', Buffer.from([3]))).toBe('queued');
    await waitFor(() => got.length === 1, 'the delivery on the unchanged lane');
    expect(got).toEqual([3]);
  });

  it('a period too long for int64 boundaries is refused, not sent at every loop pass', async () => {
    const { e, fds, spec } = await engineWithSockets();
    // Finite and > 0, so the spec check lets it through. Before: anchor + period wrapped negative
    // and the heartbeat lane went out at every pass of the loop (18,056 frames in 200 ms).
    const huge = spec({ minPeriodNs: 2 ** 63 - 1024, heartbeat: { incarnation: 1 } });
    expect(codeOf(() => e.setSender(huge))).toBe('XL_ERR_VALIDATION');
    expect(existsSync(`/proc/self/fd/${fds[0]}`)).toBe(false);
    expect(e.counters().lanes).toEqual([expect.objectContaining({ laneId: 'L1', sent: 0, received: 0 })]);
  });
});
