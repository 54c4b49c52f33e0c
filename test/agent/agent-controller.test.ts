// The agent against a REAL controller started in-process on 127.0.0.1 (real HTTP, real WebSocket,
// SQLite file): registration, snapshot and updates applied to a (fake) engine, ACK → live, the
// LocalBackend calls, grant-change events, and a controller outage and restart on the same file.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import type { LaneEvent } from '../../src/agent/local-api/backend.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { type RunningController, startController } from '../../src/controller/server.js';
import { monotonicPhaseNs } from '../../src/engine/schedule.js';
import { EXACT_WINDOWS, testbed } from '../controller/helpers.js';
import { FakeEngine, laneCounters } from './fake-engine.js';
import { PEERS } from './grants.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function controllerOn(dbPath: string, listen = '127.0.0.1:0'): Promise<RunningController> {
  const c = await startController({ topology: testbed(), dbPath, listen, allocator: EXACT_WINDOWS });
  cleanups.push(() => c.close());
  return c;
}

async function agentFor(host: string, url: string, token?: string, extra: Partial<AgentOptions> = {}) {
  const engine = new FakeEngine();
  const agent = await Agent.start({
    host,
    controller: new ControllerClient({ url, ...(token ? { token } : {}) }),
    engine,
    peers: PEERS,
    backoff: { initialMs: 20, maxMs: 200 },
    bookWaitMs: 5_000,
    ...extra,
  });
  cleanups.push(() => agent.close());
  await agent.ready;
  return { agent, engine };
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 10));
}

const req = (receivers: string[], extra = {}) => ({
  receivers,
  maxPayloadBytes: 64,
  minPeriodNs: 100_000,
  ...extra,
});

describe('agent ↔ controller', () => {
  it('registers, gets its grants, ACKs them so lanes go live, and serves local lanes', async () => {
    const c = await controllerOn(':memory:');
    const client = new ControllerClient({ url: c.url });
    const h1 = await agentFor('h1', c.url);
    const h2 = await agentFor('h2', c.url);
    expect(h1.engine.started).toEqual({ bindAddress: '10.0.0.1', port: 7400 });
    const hosts = await client.hosts();
    expect(hosts.find((h) => h.name === 'h2')).toMatchObject({
      registered: true,
      connected: true,
      engine: 'js',
    });

    // h2 is a registered receiver: the lane waits for h2's ACK, which comes once h2's engine holds it.
    const lane = await h1.agent.openLane(req(['h2'], { name: 'fd' }), { waitLiveMs: 5_000 });
    expect(lane.state).toBe('live');
    const recv = h2.engine.receivers.get(lane.laneId);
    expect(recv).toMatchObject({ senderAddress: '10.0.0.1', maxPayloadBytes: 64 });
    expect(recv!.lambdaMaxNs).toBe(lane.grant.receivers[0]!.lambdaMaxNs);
    expect(h1.engine.senders.get(lane.laneId)?.destinations).toEqual([
      { host: 'h2', address: '10.0.0.2', port: 7400 },
    ]);
    expect(h1.agent.send(lane.laneId, new Uint8Array([1, 2, 3]))).toBe('queued');
    expect(h1.engine.sent).toHaveLength(1);
    expect((await h2.agent.listen('fd')).laneId).toBe(lane.laneId);
    await expect(h1.agent.listen('fd')).rejects.toMatchObject({ code: 'XL_ERR_UNKNOWN_LANE' });
    const acked = (await client.hosts()).find((h) => h.name === 'h2')!;
    expect(acked.ackedVersion).toBe(acked.version);

    // A registered receiver that never ACKs keeps a new lane pending; its sender must not send yet.
    await client.registerHost('h3');
    const pending = await h1.agent.openLane(req(['h3']));
    expect(pending.state).toBe('pending');
    expect(h1.engine.senders.has(pending.laneId)).toBe(false);
    expect(() => h1.agent.send(pending.laneId, new Uint8Array(8))).toThrow(
      expect.objectContaining({ code: 'XL_ERR_FORBIDDEN' }),
    );

    // Another lane into h2 widens the first lane's window: h2's subscriber hears of it.
    const events: LaneEvent[] = [];
    h2.agent.subscribe(lane.laneId, { onDelivery() {}, onEvent: (e) => events.push(e) });
    const third = (await client.openLane({ sender: 'h3', ...req(['h2']) }, { waitLiveMs: 5_000 })).lane;
    expect(third.state).toBe('live');
    await until(() => events.some((e) => e.type === 'grant'));
    const changed = events.find((e) => e.type === 'grant')!;
    expect(changed.type === 'grant' && changed.grant.receivers[0]!.lambdaMaxNs).toBeGreaterThan(
      lane.grant.receivers[0]!.lambdaMaxNs,
    );
    await until(() => h2.engine.receivers.get(lane.laneId)!.lambdaMaxNs > recv!.lambdaMaxNs);

    // Closing from the sender side removes the lane everywhere.
    await h1.agent.closeLane(lane.laneId);
    await until(() => !h2.engine.receivers.has(lane.laneId) && !h1.engine.senders.has(lane.laneId));
    expect(events.at(-1)).toEqual({
      type: 'closed',
      laneId: lane.laneId,
      reason: 'removed by the controller',
    });
  });

  it("hands each sender's engine its grant's phase on this host's monotonic clock: two senders into h2 half a period apart", async () => {
    const c = await controllerOn(':memory:');
    const client = new ControllerClient({ url: c.url });
    const h1 = await agentFor('h1', c.url);
    const h2 = await agentFor('h2', c.url);
    const h3 = await agentFor('h3', c.url);
    const a = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    const b = (await client.openLane({ sender: 'h3', ...req(['h2']) }, { waitLiveMs: 5_000 })).lane;
    expect(a.state).toBe('live');
    expect(b.state).toBe('live');
    await until(() => h3.engine.senders.has(b.id));
    // examples/testbed-3.yaml declares E = 20 µs: the phase is used.
    const [ga, gb] = [a.grant, (await client.lane(b.id)).grant];
    expect(ga.releaseJitterNs).toBe(20_000);
    expect(ga.phaseNs).toBeTypeOf('number');
    expect(gb.phaseNs).toBeTypeOf('number');
    const P = 100_000;
    const mod = (x: number) => ((x % P) + P) % P;
    // Both lanes cross h2's switch port: the controller put them half a period apart.
    expect(mod(gb.phaseNs! - ga.phaseNs!)).toBe(P / 2);
    const sa = h1.engine.senders.get(a.laneId)!;
    const sb = h3.engine.senders.get(b.id)!;
    // Each engine holds its grant's realtime phase as a monotonic residue, converted exactly with
    // its agent's measurement of CLOCK_REALTIME − CLOCK_MONOTONIC.
    expect(sa.phaseNs).toBe(monotonicPhaseNs(ga.phaseNs!, P, h1.agent.realtimeOffsetNs()));
    expect(sb.phaseNs).toBe(monotonicPhaseNs(gb.phaseNs!, P, h3.agent.realtimeOffsetNs()));
    // The two agents measured the same clocks: their residues are still half a period apart, to
    // within the measurements' error (sub-µs on an idle machine; 5 µs allowed for a loaded one).
    const skew = mod(sb.phaseNs! - sa.phaseNs! - (gb.phaseNs! - ga.phaseNs!));
    expect(Math.min(skew, P - skew)).toBeLessThan(5_000);
    // The receiver has nothing to do with phases.
    expect(h2.engine.receivers.get(a.laneId)).not.toHaveProperty('phaseNs');
  });

  it("registers its kernel's boot id; a receiver on another machine's clock measures no latency", async () => {
    const c = await controllerOn(':memory:');
    const client = new ControllerClient({ url: c.url });
    // Default: the boot id, which every agent of this one kernel shares.
    const h1 = await agentFor('h1', c.url);
    const h2 = await agentFor('h2', c.url);
    // h3's agent stands for another machine.
    const h3 = await agentFor('h3', c.url, undefined, { clockDomain: 'another-machine' });
    const hosts = await client.hosts();
    const boot = hosts.find((h) => h.name === 'h1')!.clockDomain;
    expect(boot).toMatch(/^[0-9a-f-]{36}$/);
    expect(hosts.find((h) => h.name === 'h2')!.clockDomain).toBe(boot);
    expect(hosts.find((h) => h.name === 'h3')!.clockDomain).toBe('another-machine');

    const near = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    const far = await h3.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    expect((await client.lane(far.laneId)).grant.senderClockDomain).toBe('another-machine');
    await until(() => h2.engine.receivers.has(near.laneId) && h2.engine.receivers.has(far.laneId));
    expect(h2.engine.receivers.get(near.laneId)).not.toHaveProperty('sharedClock');
    expect(h2.engine.receivers.get(far.laneId)?.sharedClock).toBe(false);
    // Only the lane on a shared clock gets a latency histogram, so only its deliveries count there.
    const stamp = (laneId: string) =>
      h2.engine.deliver({
        laneId,
        seq: 1,
        sentNs: 1_000,
        receivedNs: 51_000,
        kernelReceivedNs: 0,
        payload: new Uint8Array(1),
        heartbeat: -1,
      });
    stamp(near.laneId);
    stamp(far.laneId);
    const histograms = new Map(h2.agent.latency.entries());
    expect(histograms.get(near.laneId)?.count).toBe(1);
    expect(histograms.has(far.laneId)).toBe(false);
  });

  it('re-phases its senders when the realtime clock steps, in a quiet fabric, and only then', async () => {
    const c = await controllerOn(':memory:');
    // A clock this test steps: the offset each measurement finds.
    let offsetNs = 1_795_714_089_878_588_777n;
    let measured = 0;
    const measureRealtimeOffset = () => {
      measured++;
      return { offsetNs, uncertaintyNs: 300n };
    };
    const h1 = await agentFor('h1', c.url, undefined, { measureRealtimeOffset, clockCheckMs: 20 });
    await agentFor('h2', c.url);
    const a = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    const P = 100_000;
    await until(() => h1.engine.senders.get(a.laneId)?.phaseNs !== undefined);
    const phase = () => h1.engine.senders.get(a.laneId)!.phaseNs;
    expect(phase()).toBe(monotonicPhaseNs(a.grant.phaseNs!, P, offsetNs));
    // Re-measured again and again, the same offset: the sender is left alone.
    const before = h1.engine.calls.filter((x) => x === `setSender ${a.laneId}`).length;
    const m0 = measured;
    await until(() => measured >= m0 + 3);
    expect(h1.engine.calls.filter((x) => x === `setSender ${a.laneId}`).length).toBe(before);
    // A 30 µs step, no grant change: the sender gets the phase converted with the new offset.
    offsetNs += 30_000n;
    await until(() => phase() === monotonicPhaseNs(a.grant.phaseNs!, P, offsetNs));
    expect(await h1.agent.metrics.metrics()).toContain('xlane_agent_realtime_offset_changes_total 1');
  });

  it("logs a lane whose frames leave late, from the engine's counters on a timer, and outlives an engine that cannot count", async () => {
    const c = await controllerOn(':memory:');
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const log = {
      info() {},
      warn(obj: object, msg: string) {
        warnings.push({ obj: obj as Record<string, unknown>, msg });
      },
      error() {},
    };
    const h1 = await agentFor('h1', c.url, undefined, { log, lateCheckMs: 20 });
    let sent = 0;
    let failing = false;
    h1.engine.counters = () => {
      if (failing) throw new Error('engine gone');
      sent += 1000;
      return { lanes: [laneCounters('L1', { sent, lateReleases: sent / 2 })], dropped: h1.engine.dropped };
    };
    await until(() => warnings.some((w) => w.obj.lane === 'L1' && w.obj.lateReleases === 500));
    failing = true;
    await until(() => warnings.some((w) => w.msg === 'could not read the engine counters'));
    // Still serving.
    expect(h1.agent.grants()).toEqual([]);
  });

  it('keeps lanes running while the controller is gone, and resyncs when it returns on the same file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlane-agent-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = join(dir, 'state.db');
    const first = await controllerOn(db);
    const h1 = await agentFor('h1', first.url);
    const h2 = await agentFor('h2', first.url);
    const lane = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    expect(lane.state).toBe('live');
    const port = new URL(first.url).port;

    await first.close();
    await until(() => !h1.agent.status().connected && !h2.agent.status().connected);
    // Nothing torn down: the sender still sends on its last grant, the receiver still accepts.
    expect(h1.engine.closed || h2.engine.closed).toBe(false);
    expect(h1.engine.senders.has(lane.laneId)).toBe(true);
    expect(h2.engine.receivers.has(lane.laneId)).toBe(true);
    expect(h1.agent.send(lane.laneId, new Uint8Array(4))).toBe('queued');

    const second = await controllerOn(db, `127.0.0.1:${port}`);
    const client = new ControllerClient({ url: second.url });
    await until(() => h1.agent.status().connected && h2.agent.status().connected);
    expect(h2.agent.status()).toMatchObject({ version: (await client.grants('h2')).version });
    expect(h2.engine.receivers.has(lane.laneId)).toBe(true);
    const hosts = await client.hosts();
    expect(hosts.filter((h) => h.connected).map((h) => h.name)).toEqual(['h1', 'h2']);

    // The stream is live again: a change made on the restarted controller reaches both engines.
    await client.closeLane(lane.laneId);
    await until(() => !h1.engine.senders.has(lane.laneId) && !h2.engine.receivers.has(lane.laneId));
  });

  it('closes, once the controller is back, the lanes applications let go of while it was away', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlane-agent-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = join(dir, 'state.db');
    const first = await controllerOn(db);
    const h1 = await agentFor('h1', first.url);
    await agentFor('h2', first.url);
    const appLanes = join(dir, 'agent.sock.app-lanes');
    h1.agent.trackAppLanes(appLanes);
    const kept = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    const left = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    const port = new URL(first.url).port;

    await first.close();
    await until(() => !h1.agent.status().connected);
    // The application closes (or its connection ends) with nobody to tell.
    await expect(h1.agent.closeLane(left.laneId)).rejects.toMatchObject({ code: 'XL_ERR_CONNECT' });

    const second = await controllerOn(db, `127.0.0.1:${port}`);
    const client = new ControllerClient({ url: second.url });
    const open = async () => (await client.lanes()).map((l) => l.id);
    for (let i = 0; i < 300 && (await open()).includes(left.laneId); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await open()).toEqual([kept.laneId]);
    await until(() => !h1.engine.senders.has(left.laneId));
    expect(JSON.parse(readFileSync(appLanes, 'utf8')).lanes.map((e: { id: string }) => e.id)).toEqual([
      kept.laneId,
    ]);
  });

  it('waits for a controller that is not up yet, and speaks with the token it needs', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const starting = agentFor('h2', url, 's3cret');
    // The agent is already trying (and backing off) before the controller exists.
    await new Promise((r) => setTimeout(r, 50));
    const c = await startController({
      topology: testbed(),
      dbPath: ':memory:',
      listen: `127.0.0.1:${port}`,
      token: 's3cret',
    });
    cleanups.push(() => c.close());
    const { agent } = await starting;
    expect(agent.status().connected).toBe(true);
    const h2 = (await new ControllerClient({ url }).hosts()).find((h) => h.name === 'h2');
    expect(h2).toMatchObject({ registered: true, connected: true });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}
