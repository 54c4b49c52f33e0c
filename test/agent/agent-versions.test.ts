// The agent across releases, against a REAL controller in-process (127.0.0.1): it says its package
// version and control protocol at registration and in the hello; it acts on the grant fields it
// knows and ignores those a newer controller adds; and it still registers with a controller of
// xlane 0.1.0, whose closed register body does not know `protocol`.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import type { LaneEvent } from '../../src/agent/local-api/backend.js';
import type { AgentLog } from '../../src/agent/log.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { type RunningController, type StartOptions, startController } from '../../src/controller/server.js';
import type { WireGrant } from '../../src/controller/views.js';
import { XlaneError } from '../../src/errors.js';
import { EXACT_WINDOWS, testbed } from '../controller/helpers.js';
import { TestWatch } from '../controller/watch-client.js';
import { FakeEngine } from './fake-engine.js';
import { PEERS } from './grants.js';

const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function controller(opts: Partial<StartOptions> = {}): Promise<RunningController> {
  const c = await startController({
    topology: testbed(),
    dbPath: ':memory:',
    listen: '127.0.0.1:0',
    allocator: EXACT_WINDOWS,
    ...opts,
  });
  cleanups.push(() => c.close());
  return c;
}

type Line = { level: 'info' | 'warn' | 'error'; obj: object; msg: string };
function recordingLog(): { lines: Line[]; log: AgentLog } {
  const lines: Line[] = [];
  return {
    lines,
    log: {
      info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
      warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
      error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
    },
  };
}

async function agentFor(host: string, client: ControllerClient, extra: Partial<AgentOptions> = {}) {
  const engine = new FakeEngine();
  const agent = await Agent.start({
    host,
    controller: client,
    engine,
    peers: PEERS,
    backoff: { initialMs: 20, maxMs: 200 },
    bookWaitMs: 5_000,
    clockDomain: null,
    ...extra,
  });
  cleanups.push(() => agent.close());
  await agent.ready;
  return { agent, engine };
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 10));
}

/** A grant of the "newer controller" below without the fields it added. */
function withoutAdded(g: WireGrant): WireGrant {
  const { carbon: _, ...rest } = g as WireGrant & { carbon?: unknown };
  return {
    ...rest,
    receivers: g.receivers.map(
      ({ queue: _q, ...r }: WireGrant['receivers'][number] & { queue?: string }) => r,
    ),
    tree: g.tree.map(({ ecmpHash: _h, ...h }: WireGrant['tree'][number] & { ecmpHash?: number }) => h),
  };
}

const req = (receivers: string[]) => ({ receivers, maxPayloadBytes: 64, minPeriodNs: 100_000 });

describe('agent ↔ controller across releases', () => {
  it('says its package version and control protocol, at registration and in the hello', async () => {
    const c = await controller();
    const hellos: unknown[] = [];
    // The hub's own parsing, observed: what the agent's socket said.
    const hub = c.hub as unknown as { handle(conn: unknown, text: string | undefined, q?: string): void };
    const handle = hub.handle.bind(c.hub);
    hub.handle = (conn, text, q) => {
      const msg = JSON.parse(text ?? 'null') as { type?: string };
      if (msg?.type === 'hello') hellos.push(msg);
      handle(conn, text, q);
    };
    const client = new ControllerClient({ url: c.url });
    await agentFor('h1', client);
    expect((await client.hosts()).find((h) => h.name === 'h1')).toMatchObject({
      registered: true,
      connected: true,
      agentVersion: PACKAGE.version,
      protocol: 1,
    });
    expect(hellos).toEqual([
      { type: 'hello', host: 'h1', version: 0, agentVersion: PACKAGE.version, protocol: 1 },
    ]);
    expect((await client.health()) as unknown).toMatchObject({
      agents: [{ agentVersion: PACKAGE.version, protocol: 1, hosts: 1 }],
    });
  });

  it('acts on the grant fields it knows and ignores those a newer controller adds', async () => {
    // One watch per host: a second hello for h2 closes the agent's socket, whose reconnect resyncs.
    const c = await controller({ watchMaxPerHost: 1 });
    // A newer controller: every grant it sends (snapshot, update, API) carries fields this agent
    // does not know, at the top, in its receivers and in its tree, and one of them changes each time.
    const lifecycle = c.lifecycle as unknown as { wire(...a: unknown[]): WireGrant };
    const wire = lifecycle.wire.bind(c.lifecycle);
    let issued = 0;
    lifecycle.wire = (...a) => {
      const g = wire(...a);
      issued++;
      return {
        ...g,
        carbon: { gramsPerGb: issued },
        receivers: g.receivers.map((r) => ({ ...r, queue: 'q7' })),
        tree: g.tree.map((h) => ({ ...h, ecmpHash: issued })),
      } as WireGrant;
    };
    const client = new ControllerClient({ url: c.url });
    const h1 = await agentFor('h1', client);
    const h2log = recordingLog();
    const h2 = await agentFor('h2', client, { log: h2log.log });

    // The lane goes live through the receiver's ACK: the grants applied in full.
    const lane = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    expect(lane.state).toBe('live');
    await until(() => h2.agent.grants()[0]?.state === 'live');
    expect(h1.engine.senders.get(lane.laneId)).toMatchObject({ maxPayloadBytes: 64, minPeriodNs: 100_000 });
    expect(h2.engine.receivers.get(lane.laneId)).toMatchObject({ senderAddress: '10.0.0.1' });
    for (const g of [...h1.agent.grants(), ...h2.agent.grants(), lane.grant]) {
      expect(g).not.toHaveProperty('carbon');
      expect(g.receivers[0]).not.toHaveProperty('queue');
      expect(g.tree[0]).not.toHaveProperty('ecmpHash');
    }
    const held = h2.agent.grants()[0]!;
    // Everything else is as the controller sent it.
    expect(held).toEqual(withoutAdded((await client.lane(lane.laneId)).grant));

    // A resync brings the same grant with only the unknown field changed: no change for the
    // application, which would otherwise hear of a "new" grant on every reconnect.
    const events: LaneEvent[] = [];
    h2.agent.subscribe(lane.laneId, { onDelivery() {}, onEvent: (e) => events.push(e) });
    const before = issued;
    const insync = () => h2log.lines.filter((l) => l.msg === 'watch: in sync with the controller').length;
    expect(insync()).toBe(1);
    const look = await TestWatch.open(client.watchUrl('h2'));
    cleanups.push(() => look.ws.terminate());
    look.send({ type: 'hello', host: 'h2' });
    await look.next('snapshot');
    await until(() => insync() === 2);
    expect(issued).toBeGreaterThan(before);
    expect(events).toEqual([]);
    expect(h2.agent.grants()).toEqual([held]);
  });

  it('registers with a controller of xlane 0.1.0, which does not know `protocol`, without naming it', async () => {
    const c = await controller();
    /** What such a controller answers a body with `protocol` (its register body was closed). */
    class ReleaseZeroOneClient extends ControllerClient {
      refused = 0;
      override registerHost(...args: Parameters<ControllerClient['registerHost']>) {
        const [, info] = args;
        if (info && 'protocol' in info) {
          this.refused++;
          const message = 'must NOT have additional properties (protocol)';
          return Promise.reject(
            new XlaneError('XL_ERR_VALIDATION', `body ${message}`, { errors: [{ path: 'body', message }] }),
          );
        }
        return super.registerHost(...args);
      }
    }
    const client = new ReleaseZeroOneClient({ url: c.url });
    const { lines, log } = recordingLog();
    await agentFor('h1', client, { log });
    expect(client.refused).toBeGreaterThan(0);
    // Registered (it speaks protocol 1, as that controller does), told once, not as a failure.
    expect((await client.hosts()).find((h) => h.name === 'h1')).toMatchObject({
      registered: true,
      connected: true,
      agentVersion: PACKAGE.version,
    });
    const said = lines.filter((l) => l.msg.includes('predates control protocols'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ level: 'warn', obj: { agentVersion: PACKAGE.version, protocol: 1 } });
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });
});
