// X-FD inside real agents against a REAL controller (in-process, HTTP + WebSocket), with fake
// engines: each agent opens its group's heartbeat lane, the engines get heartbeat senders and
// watched receivers with TO from the grants, TO follows a grant change, liveness events reach
// subscribers and /metrics, and a restarted agent re-adopts its lane with a larger incarnation.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { startDaemon } from '../../src/agent/daemon.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import type { RunningController } from '../../src/controller/server.js';
import type { FdGroupSpec } from '../../src/fd/group-config.js';
import { failureTimeoutNs } from '../../src/fd/timeout.js';
import type { FdEvent } from '../../src/fd/types.js';
import { startTestController } from '../controller/helpers.js';
import { FdFakeEngine, PEERS } from '../fd/fakes.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const GROUP = { name: 'g', members: ['h1', 'h2', 'h3'] };

async function controller(): Promise<RunningController> {
  const c = await startTestController();
  cleanups.push(() => c.close());
  return c;
}

async function fdAgent(host: string, url: string, incarnation: number, group: FdGroupSpec = GROUP) {
  const engine = new FdFakeEngine();
  const agent = await Agent.start({
    host,
    controller: new ControllerClient({ url }),
    engine,
    peers: PEERS,
    backoff: { initialMs: 20, maxMs: 200 },
    fd: { groups: [group], incarnation, periodNs: 1_000_000, confirmNs: 1e9 },
  });
  let closed = false;
  const close = async () => {
    if (!closed) await agent.close();
    closed = true;
  };
  cleanups.push(close);
  await agent.ready;
  return { agent, engine, close };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

describe('agent with --fd', () => {
  it('--fd GROUP without members: every host of the topology is a member', async () => {
    const c = await controller();
    const api = new ControllerClient({ url: c.url });
    await Promise.all(['h1', 'h2', 'h3'].map((h, i) => fdAgent(h, c.url, 1001 + i, { name: 'all' })));
    await until(
      async () => (await api.lanes()).filter((l) => l.state === 'live').length === 3,
      '3 live FD lanes',
    );
    const lanes = await api.lanes();
    expect(lanes.map((l) => [l.name, l.request.sender, l.request.receivers]).sort()).toEqual([
      ['xfd.all.h1', 'h1', ['h2', 'h3']],
      ['xfd.all.h2', 'h2', ['h1', 'h3']],
      ['xfd.all.h3', 'h3', ['h1', 'h2']],
    ]);
  });

  it('opens the heartbeat lanes, configures senders and watched receivers, and reports member changes', async () => {
    const c = await controller();
    const api = new ControllerClient({ url: c.url });
    const [h1, h2] = await Promise.all([
      fdAgent('h1', c.url, 1001),
      fdAgent('h2', c.url, 2001),
      fdAgent('h3', c.url, 3001),
    ]);
    await until(
      async () => (await api.lanes()).filter((l) => l.state === 'live').length === 3,
      '3 live FD lanes',
    );
    const lanes = await api.lanes();
    const byName = new Map(lanes.map((l) => [l.name, l]));
    expect([...byName.keys()].sort()).toEqual(['xfd.g.h1', 'xfd.g.h2', 'xfd.g.h3']);
    expect(byName.get('xfd.g.h1')?.request).toMatchObject({
      sender: 'h1',
      receivers: ['h2', 'h3'],
      minPeriodNs: 1e6,
    });

    const l1 = byName.get('xfd.g.h1')!.id;
    const l2 = byName.get('xfd.g.h2')!.id;
    const l3 = byName.get('xfd.g.h3')!.id;
    await until(
      () => h1.engine.senders.has(l1) && h1.engine.receivers.get(l3)?.heartbeat !== undefined,
      'h1 synced',
    );
    expect(h1.engine.senders.get(l1)?.heartbeat).toEqual({ incarnation: 1001 });
    expect(h2.engine.senders.get(l2)?.heartbeat).toEqual({ incarnation: 2001 });
    for (const id of [l2, l3]) {
      const grant = h1.agent.grants().find((g) => g.laneId === id)!;
      expect(h1.engine.receivers.get(id)?.heartbeat).toEqual({
        deliver: false,
        timeoutNs: failureTimeoutNs(grant, 'h1'),
      });
    }
    expect(h1.engine.receivers.has(l1)).toBe(false);

    // The engine reports h2 alive, then silent: h1's subscribers hear it.
    const events: FdEvent[] = [];
    const sub = h1.agent.subscribeGroup('g', (e) => events.push(e));
    expect(sub.members.map((m) => [m.member, m.state, m.laneId])).toEqual([
      ['h2', 'unknown', l2],
      ['h3', 'unknown', l3],
    ]);
    h1.engine.raise({ laneId: l2, state: 'alive', incarnation: 2001, lastArrivalNs: 10, atNs: 10 });
    h1.engine.raise({ laneId: l2, state: 'suspect', incarnation: 2001, lastArrivalNs: 10, atNs: 2_000_010 });
    expect(events.map((e) => [e.member, e.state, e.cause])).toEqual([
      ['h2', 'up', 'heartbeat'],
      ['h2', 'suspect', 'timeout'],
    ]);
    const text = await h1.agent.metrics.metrics();
    expect(text).toContain('xlane_fd_member_state{group="g",member="h2",state="suspect"} 1');
    expect(text).toContain('xlane_fd_member_state{group="g",member="h3",state="unknown"} 1');
    expect(text).toContain('xlane_fd_suspicions_total{group="g",member="h2"} 1');
    expect(text).toMatch(/xlane_fd_timeout_seconds\{group="g",member="h2"\} 0\.00\d+/);

    // A new lane into h1 widens the FD lanes' windows towards h1: the larger TO applies at once.
    const before = h1.engine.receivers.get(l2)!.heartbeat!.timeoutNs!;
    await api.openLane(
      { sender: 'h3', receivers: ['h1'], maxPayloadBytes: 1400, minPeriodNs: 200_000 },
      { waitLiveMs: 5_000 },
    );
    await until(() => h1.engine.receivers.get(l2)!.heartbeat!.timeoutNs! > before, 'TO grew with the window');
    const grant = h1.agent.grants().find((g) => g.laneId === l2)!;
    expect(h1.engine.receivers.get(l2)?.heartbeat?.timeoutNs).toBe(failureTimeoutNs(grant, 'h1'));
    expect(h1.agent.fd?.statuses().find((s) => s.member === 'h2')?.timeoutNs).toBe(
      failureTimeoutNs(grant, 'h1'),
    );

    // h2's agent restarts with a larger incarnation: it re-adopts its lane (no new lane).
    await h2.close();
    const again = await fdAgent('h2', c.url, 2002);
    await until(() => again.engine.senders.get(l2)?.heartbeat?.incarnation === 2002, 'restarted sender');
    expect(
      (await api.lanes())
        .filter((l) => l.name?.startsWith('xfd.'))
        .map((l) => l.id)
        .sort(),
    ).toEqual([l1, l2, l3].sort());
    sub.unsubscribe();

    // Applications cannot take the failure detector's lane names.
    await expect(
      h1.agent.openLane({ name: 'xfd.g.h1', receivers: ['h2'], maxPayloadBytes: 8, minPeriodNs: 1e6 }),
    ).rejects.toMatchObject({ code: 'XL_ERR_VALIDATION' });
  });

  it('xlane agent --fd: refuses a group without this host; records the incarnation next to the socket; /metrics has fd series', async () => {
    const silent = { info() {}, warn() {}, error() {} };
    await expect(
      startDaemon({ host: 'h1', engine: 'js', socket: '/nonexistent/x.sock', fd: ['g=h2,h3'], log: silent }),
    ).rejects.toMatchObject({ code: 'XL_ERR_VALIDATION' });
    await expect(
      startDaemon({
        host: 'h1',
        engine: 'js',
        socket: '/nonexistent/x.sock',
        fd: ['g=h1,h2'],
        fdPeriodNs: 0,
        log: silent,
      }),
    ).rejects.toMatchObject({ code: 'XL_ERR_VALIDATION' });

    const c = await controller();
    const dir = mkdtempSync(join(tmpdir(), 'xlane-fd-daemon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, 'run', 'agent.sock');
    const daemon = await startDaemon({
      controller: c.url,
      host: 'h1',
      engine: 'js',
      engineInstance: new FdFakeEngine(),
      socket,
      peers: 'h1=10.0.0.1,h2=10.0.0.2',
      metrics: '127.0.0.1:0',
      fd: ['g=h1,h2'],
      fdPeriodNs: 2e6,
      log: silent,
    });
    cleanups.push(() => daemon.close());
    await daemon.agent.ready;
    const incarnation = Number(readFileSync(`${socket}.fd-incarnation`, 'utf8'));
    expect(daemon.agent.fd?.incarnation).toBe(incarnation);
    expect(incarnation).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 60);
    expect(daemon.agent.fd?.periodNs).toBe(2e6);
    const text = await (await fetch(daemon.metrics!.url)).text();
    expect(text).toContain('xlane_fd_member_state{group="g",member="h2",state="unknown"} 1');
  });
});
