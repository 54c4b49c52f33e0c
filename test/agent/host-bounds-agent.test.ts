// `--host-bounds measure` end to end against a REAL controller in-process (HTTP, WebSocket, SQLite):
// the agent calibrates before it serves, PUTs the bounds, the controller re-issues the grants and the
// agent's own book holds them. The engine is a fake whose loopback takes exactly 20 µs, so the
// derived bounds are known in advance.
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { HOST_CALIBRATION_LANE_ID } from '../../src/agent/host-bounds/calibration-lane.js';
import type { AgentLog } from '../../src/agent/log.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import type { RunningController } from '../../src/controller/server.js';
import { startTestController } from '../controller/helpers.js';
import { PEERS } from './grants.js';
import { LoopbackEngine } from './loopback-engine.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function recordingLog(): AgentLog & { lines: string[] } {
  const lines: string[] = [];
  const rec = (_o: object, msg: string) => {
    lines.push(msg);
  };
  return { lines, info: rec, warn: rec, error: rec };
}

async function controller(): Promise<RunningController> {
  const c = await startTestController();
  cleanups.push(() => c.close());
  return c;
}

async function agent(url: string, hostBounds?: { seconds: number; policy?: { minFactor: number } }) {
  const engine = new LoopbackEngine();
  const log = recordingLog();
  const a = await Agent.start({
    host: 'h1',
    controller: new ControllerClient({ url }),
    engine,
    peers: PEERS,
    log,
    backoff: { initialMs: 20, maxMs: 200 },
    ...(hostBounds ? { hostBounds } : {}),
  });
  cleanups.push(() => a.close());
  await a.ready;
  return { agent: a, engine, log };
}

describe('agent --host-bounds measure', () => {
  it('calibrates before serving, the controller re-issues the grants, the agent holds them', async () => {
    const c = await controller();
    const client = new ControllerClient({ url: c.url });
    const lane = (
      await client.openLane({ sender: 'h1', receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 100_000 })
    ).lane;
    const { agent: a, engine, log } = await agent(c.url, { seconds: 0.2, policy: { minFactor: 0.8 } });

    const h1 = (await client.hosts()).find((h) => h.name === 'h1')!;
    // every sample is 20 µs: min 20 µs × 0.8, max 20 µs × 1.5, half of each to either side
    expect(h1.bounds).toMatchObject({
      source: 'measured',
      sendLatency: { minNs: 8_000, maxNs: 15_000 },
      recvLatency: { minNs: 8_000, maxNs: 15_000 },
      measured: {
        method: 'loopback',
        engine: 'js',
        periodNs: 100_000,
        quantile: 0.9999,
        safetyFactor: 1.5,
        minFactor: 0.8,
      },
    });
    expect(h1.bounds.measured!.samples).toBeGreaterThan(0);
    expect(h1.registered).toBe(true);

    // the lane's window moved by exactly h1's send-bound change (declared 5..50 µs)
    const now = await client.lane(lane.id);
    const before = lane.grant.receivers[0]!;
    const after = now.grant.receivers[0]!;
    expect(after.lambdaMinNs - before.lambdaMinNs).toBe(8_000 - 5_000);
    expect(after.lambdaMaxNs).toBeLessThan(before.lambdaMaxNs);
    expect(a.grants().find((g) => g.laneId === lane.id)!.receivers[0]).toEqual(after);

    // the calibration lane came and went before the lane's own sender was set
    const calls = engine.calls.filter((x) => x.includes(HOST_CALIBRATION_LANE_ID) || x.includes(lane.id));
    expect(calls).toEqual([
      `setReceiver ${HOST_CALIBRATION_LANE_ID}`,
      `setSender ${HOST_CALIBRATION_LANE_ID}`,
      `removeSender ${HOST_CALIBRATION_LANE_ID}`,
      `removeReceiver ${HOST_CALIBRATION_LANE_ID}`,
      `setSender ${lane.id}`,
    ]);
    expect(log.lines.some((l) => l.startsWith('host bounds measured: send 8..15 µs, recv 8..15 µs'))).toBe(
      true,
    );
  });

  it('a refusal (a deadline would break) is logged; the agent serves on the bounds the controller has', async () => {
    const c = await controller();
    const client = new ControllerClient({ url: c.url });
    const probe = (
      await client.openLane({ sender: 'h1', receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 100_000 })
    ).lane;
    await client.closeLane(probe.id);
    // room for 5 µs more; 20 µs × 5, all on the send side, takes h1's send max from 50 to 100 µs
    const tight = (
      await client.openLane({
        sender: 'h1',
        receivers: ['h2'],
        maxPayloadBytes: 64,
        minPeriodNs: 100_000,
        deadlineNs: probe.grant.receivers[0]!.lambdaMaxNs + 5_000,
      })
    ).lane;
    const { agent: a, log } = await agentWithPolicy(c.url, { safetyFactor: 5 });
    expect(log.lines.some((l) => l.includes('refused them'))).toBe(true);
    expect((await client.hosts()).find((h) => h.name === 'h1')!.bounds.source).toBe('declared');
    expect((await client.lane(tight.id)).state).toBe('live');
    expect(a.status().connected).toBe(true);
  });

  it('declared (the default) leaves the bounds and the engine alone', async () => {
    const c = await controller();
    const client = new ControllerClient({ url: c.url });
    const { engine } = await agent(c.url);
    expect(engine.calls.some((x) => x.includes(HOST_CALIBRATION_LANE_ID))).toBe(false);
    expect((await client.hosts()).find((h) => h.name === 'h1')!.bounds.source).toBe('declared');
  });
});

/** An agent whose calibration puts the whole 20 µs × factor on the send side. */
async function agentWithPolicy(url: string, policy: { safetyFactor: number }) {
  const engine = new LoopbackEngine();
  const log = recordingLog();
  const a = await Agent.start({
    host: 'h1',
    controller: new ControllerClient({ url }),
    engine,
    peers: PEERS,
    log,
    backoff: { initialMs: 20, maxMs: 200 },
    hostBounds: { seconds: 0.2, policy: { ...policy, sendShare: 1 } },
  });
  cleanups.push(() => a.close());
  await a.ready;
  return { agent: a, engine, log };
}
