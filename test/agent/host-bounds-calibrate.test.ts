// The calibration lane against the real js engine on loopback, for a short bounded time. No timing
// thresholds: the figures depend on the machine; what must hold is that frames came back and the
// engine is left as it was found.
import { afterEach, describe, expect, it } from 'vitest';
import { runCalibration } from '../../src/agent/host-bounds/calibrate.js';
import {
  calibrationAddress,
  calibrationLaneSpecs,
  HOST_CALIBRATION_LANE_ID,
  HOST_CALIBRATION_WIRE_ID,
} from '../../src/agent/host-bounds/calibration-lane.js';
import { deriveHostBounds } from '../../src/agent/host-bounds/statistics.js';
import { createJsEngine } from '../../src/engine/js/engine.js';
import type { Engine } from '../../src/engine/types.js';
import { laneWireId } from '../../src/engine/types.js';
import { freeUdpPort } from '../engine/helpers.js';

const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

async function jsEngineOn(bindAddress: string) {
  const port = await freeUdpPort('127.0.0.1');
  const engine = createJsEngine();
  engines.push(engine);
  await engine.start({ bindAddress, port });
  return { engine, port };
}

describe('host calibration on the js engine', () => {
  it('records one-way latencies of a loopback lane and removes the lane afterwards', async () => {
    const { engine, port } = await jsEngineOn('127.0.0.1');
    const run = await runCalibration(engine, { bindAddress: '127.0.0.1', port, seconds: 0.3 });
    expect(run.engine).toBe('js');
    expect(run.latenciesNs.length).toBeGreaterThan(0);
    expect(run.sent).toBeGreaterThanOrEqual(run.latenciesNs.length);
    expect(run.durationNs).toBeGreaterThan(0);
    // The js engine delivers on its own thread: no ring to wait on, and no figure for it.
    expect(run.ringFullWaits).toBeUndefined();
    const d = deriveHostBounds(run.latenciesNs);
    expect(d.summary.discarded).toBe(0);
    expect(d.summary.minNs).toBeGreaterThan(0);
    expect(d.summary.minNs).toBeLessThanOrEqual(d.summary.maxNs);
    expect(d.send.minNs).toBeLessThanOrEqual(d.send.maxNs);
    expect(d.recv.minNs).toBeLessThanOrEqual(d.recv.maxNs);
    // the engine holds no calibration lane any more, and dropped nothing of it
    expect(engine.counters().lanes.map((l) => l.laneId)).not.toContain(HOST_CALIBRATION_LANE_ID);
    expect(engine.counters().dropped.wrongSender).toBe(0);
  });

  it('an engine listening on every address calibrates over 127.0.0.1', async () => {
    const { engine, port } = await jsEngineOn('0.0.0.0');
    const run = await runCalibration(engine, {
      bindAddress: '0.0.0.0',
      port,
      seconds: 0.2,
      periodNs: 200_000,
    });
    expect(run.latenciesNs.length).toBeGreaterThan(0);
  });

  it('checks its options before touching the engine', async () => {
    const { engine, port } = await jsEngineOn('127.0.0.1');
    for (const bad of [{ seconds: 0 }, { seconds: 31 }, { periodNs: 1_000 }, { payloadBytes: 5_000 }]) {
      await expect(runCalibration(engine, { bindAddress: '127.0.0.1', port, ...bad })).rejects.toMatchObject({
        code: 'XL_ERR_VALIDATION',
      });
    }
    expect(engine.counters().lanes).toEqual([]);
  });
});

describe('the calibration lane', () => {
  it('cannot clash with a controller lane', () => {
    // controller lane ids are L<n>: the calibration lane id is not one
    expect(() => laneWireId(HOST_CALIBRATION_LANE_ID)).toThrow();
    const { sender, receiver } = calibrationLaneSpecs({
      bindAddress: '10.0.0.1',
      port: 7400,
      periodNs: 100_000,
      payloadBytes: 64,
      dscp: 46,
    });
    expect(sender).toMatchObject({ wireId: HOST_CALIBRATION_WIRE_ID, srcPort: 0, policy: 'coalesce' });
    expect(sender.destinations).toEqual([{ host: 'self', address: '10.0.0.1', port: 7400 }]);
    expect(receiver).toMatchObject({ wireId: HOST_CALIBRATION_WIRE_ID, senderAddress: '10.0.0.1' });
    expect(calibrationAddress('0.0.0.0')).toBe('127.0.0.1');
  });
});
