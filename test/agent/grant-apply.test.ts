// A grant the agent cannot apply is not acknowledged: against a real in-process controller, a
// receiver with no address for the lane's sender keeps the lane pending (instead of letting it go
// live and dropping every frame as unknownLane), says so in the log and the metrics, and ACKs once a
// later change applies in full.
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import type { AgentLog } from '../../src/agent/log.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { startTestController } from '../controller/helpers.js';
import { FakeEngine } from './fake-engine.js';
import { PEERS } from './grants.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function recordingLog() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  const log: AgentLog = {
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
  return { log, lines };
}

async function agentFor(host: string, url: string, peers: Map<string, string>, log?: AgentLog) {
  const engine = new FakeEngine();
  const agent = await Agent.start({
    host,
    controller: new ControllerClient({ url }),
    engine,
    peers,
    backoff: { initialMs: 20, maxMs: 200 },
    bookWaitMs: 2_000,
    ...(log ? { log } : {}),
  });
  cleanups.push(() => agent.close());
  await agent.ready;
  return { agent, engine };
}

async function until(check: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const req = (receivers: string[]) => ({ receivers, maxPayloadBytes: 64, minPeriodNs: 100_000 });

describe('grants the agent cannot apply', () => {
  it('are not acknowledged, are counted and logged, and are retried on the next change', async () => {
    const c = await startTestController();
    cleanups.push(() => c.close());
    const client = new ControllerClient({ url: c.url });
    const h1 = await agentFor('h1', c.url, new Map(PEERS));
    // h2 was told no address for h1: it cannot check where h1's frames come from.
    const h2Peers = new Map([...PEERS].filter(([h]) => h !== 'h1'));
    const { log, lines } = recordingLog();
    const h2 = await agentFor('h2', c.url, h2Peers, log);
    const ackedBefore = (await client.hosts()).find((h) => h.name === 'h2')!.ackedVersion;

    const lane = await h1.agent.openLane(req(['h2']), { waitLiveMs: 300 });
    await until(() => h2.agent.status().version > ackedBefore);
    await new Promise((r) => setTimeout(r, 100)); // room for an ACK, were one sent
    expect((await client.lane(lane.laneId)).state).toBe('pending');
    const h2View = (await client.hosts()).find((h) => h.name === 'h2')!;
    expect(h2View.ackedVersion).toBe(ackedBefore);
    expect(h2View.version).toBeGreaterThan(ackedBefore);
    expect(h2.engine.receivers.has(lane.laneId)).toBe(false);
    expect(h1.engine.senders.has(lane.laneId)).toBe(false);
    expect(h2.agent.status()).toMatchObject({ ackedVersion: ackedBefore });
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'error', msg: `lane not configured: no address for sender h1` }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        msg: expect.stringMatching(/NOT acknowledged: 1 lane\(s\) not configured/),
      }),
    );
    const text = await h2.agent.metrics.metrics();
    expect(text).toMatch(/^xlane_agent_grant_apply_errors_total [1-9]/m);
    expect(text).toContain('xlane_agent_lanes_not_configured 1');
    expect(text).toContain(`xlane_watch_acked_version ${ackedBefore}`);

    // The address arrives (in real life: an agent restarted with a fuller --peers); the next change
    // that reaches h2 applies the whole book again, and this time h2 acknowledges it.
    h2Peers.set('h1', PEERS.get('h1')!);
    const other = await client.openLane({ sender: 'h3', ...req(['h2']) });
    await until(async () => (await client.lane(lane.laneId)).state === 'live');
    await until(async () => (await client.lane(other.lane.id)).state === 'live');
    expect(h2.engine.receivers.get(lane.laneId)).toMatchObject({ senderAddress: '10.0.0.1' });
    await until(() => h1.engine.senders.has(lane.laneId));
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'grants applied in full again: acknowledging' }),
    );
    expect(await h2.agent.metrics.metrics()).toContain('xlane_agent_lanes_not_configured 0');
  });
});
