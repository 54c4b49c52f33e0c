// When the hosts' measured bounds make a lane inadmissible, the bench's error must say which host
// measured what: the controller's refusal names only a port, and the cause is a calibration stall.
import { afterEach, describe, expect, it } from 'vitest';
import { withMeasuredBounds } from '../../src/bench/interference.js';
import { calibrationNote } from '../../src/bench/interference-notes.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { type RunningController, startController } from '../../src/controller/server.js';
import { XlaneError } from '../../src/errors.js';
import { testbed } from '../controller/helpers.js';

let controller: RunningController | undefined;
afterEach(async () => {
  await controller?.close();
  controller = undefined;
});

const lane = { sender: 'h1', receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 100_000 };

describe('withMeasuredBounds', () => {
  it('adds every measured host bound to an admission refusal, and keeps its code and details', async () => {
    controller = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
    const client = new ControllerClient({ url: controller.url });
    // A calibration that caught a 160 ms stall: h1's send bound widens the lane's burst past the
    // ports' buffers.
    await client.setHostLatency('h1', {
      sendLatency: { minNs: 3_000, maxNs: 162_564_689 },
      recvLatency: { minNs: 3_000, maxNs: 162_564_689 },
      measured: { samples: 48_000, periodNs: 100_000 },
    });
    const refused = await client.openLane(lane).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toMatchObject({ code: 'XL_ERR_ADMISSION_REJECTED' });
    const said = (await withMeasuredBounds(refused, client)) as XlaneError;
    expect(said.code).toBe('XL_ERR_ADMISSION_REJECTED');
    expect(said.message).toContain((refused as XlaneError).message);
    expect(said.message).toMatch(/h1 send ≤ 162\.6 ms, receive ≤ 162\.6 ms/);
    expect(said.message).toMatch(/--host-bounds declared/);
    expect(said.details).toEqual((refused as XlaneError).details);
  });

  it('passes any other error, or a refusal without measured bounds, through unchanged', async () => {
    controller = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
    const client = new ControllerClient({ url: controller.url });
    const other = new XlaneError('XL_ERR_VALIDATION', 'bad');
    expect(await withMeasuredBounds(other, client)).toBe(other);
    const refusal = new XlaneError('XL_ERR_ADMISSION_REJECTED', 'no buffer on s1→h2');
    expect(await withMeasuredBounds(refusal, client)).toBe(refusal);
  });
});

describe('calibrationNote', () => {
  it('names the hosts whose calibration waited on their application, and only those', () => {
    const row = (host: string, waits?: number) => ({
      host,
      source: 'measured',
      sendUs: [3, 200] as [number, number],
      recvUs: [3, 200] as [number, number],
      ...(waits !== undefined ? { calibrationRingFullWaits: waits } : {}),
    });
    expect(calibrationNote([row('h1', 0), row('h2')])).toBeUndefined();
    expect(calibrationNote(undefined)).toBeUndefined();
    expect(calibrationNote([row('h1', 12), row('h2', 0), row('h3', 3)])).toBe(
      "calibration: h1's engine left its socket unread 12 times, h3's engine left its socket unread 3 times " +
        "because the host's application had not drained its delivery ring: the wait is in that host's measured bounds.",
    );
  });
});
