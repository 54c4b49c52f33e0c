// The calibration lane on the real native engine: when the process's JS thread stops draining the
// delivery ring, the engine stops reading (back-pressure), the frames wait in the socket, and that
// wait lands in the calibration's latencies. The run must say so (ringFullWaits), and the agent's
// request must carry it to the controller, or an operator would take a starved JS thread for the
// host's network stack.
import { afterEach, describe, expect, it } from 'vitest';
import { runCalibration } from '../../src/agent/host-bounds/calibrate.js';
import { hostLatencyRequest } from '../../src/agent/host-bounds/measure.js';
import { deriveHostBounds } from '../../src/agent/host-bounds/statistics.js';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import { freeUdpPort } from '../engine/helpers.js';
import { nativeEngine, skipReason } from '../engine/native-helpers.js';

const LO = '127.0.0.1';
const open: NativeEngine[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
});

/** Holds the JS thread for `ms` without giving it back (no event loop turn meanwhile). */
function blockJs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe.skipIf(skipReason !== '')(`host calibration on the native engine ${skipReason}`, () => {
  it('counts the receive passes that waited on a stalled JS thread, and the wait is in the latencies', async () => {
    const engine = nativeEngine({ receive: 'blocking' });
    open.push(engine);
    const port = await freeUdpPort();
    await engine.start({ bindAddress: LO, port });
    // 250 ms without draining: the delivery ring (a few hundred frames at 100 µs) fills within
    // ~35 ms, and the rest of the stall's frames wait in the socket.
    const stall = setTimeout(() => blockJs(250), 300);
    const run = await runCalibration(engine, { bindAddress: LO, port, seconds: 1 });
    clearTimeout(stall);
    expect(run.ringFullWaits).toBeGreaterThan(0);
    const d = deriveHostBounds(run.latenciesNs);
    expect(d.summary.maxNs).toBeGreaterThan(100_000_000);
    const req = hostLatencyRequest(run, d);
    expect(req.measured!.ringFullWaits).toBe(run.ringFullWaits);
  });
});
