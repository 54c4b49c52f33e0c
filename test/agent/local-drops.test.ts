// Deliveries and failure-detector events the local API drops for a client that does not read: the
// limit itself (a backlog AT the limit still gets frames), the per-connection count the client sees
// in `counters`, the per-lane / per-group report to the backend, and its rate-limited log and metrics.
import { describe, expect, it } from 'vitest';
import type { LocalSubscriber } from '../../src/agent/local-api/backend.js';
import { encodeJsonFrame, FrameType } from '../../src/agent/local-api/frames.js';
import { LocalSession } from '../../src/agent/local-api/session.js';
import type { AgentLog } from '../../src/agent/log.js';
import { createAgentMetrics } from '../../src/agent/metrics/agent-metrics.js';
import { ClientDrops } from '../../src/agent/metrics/client-drops.js';
import { LatencyRecorder } from '../../src/agent/metrics/latency-recorder.js';
import type { FdEvent, GroupSubscription } from '../../src/fd/types.js';
import { FakeBackend } from '../client/fake-backend.js';
import { FakeEngine } from './fake-engine.js';

const LIMIT = 1_000;

class DropBackend extends FakeBackend {
  readonly drops: string[] = [];
  fdListener: ((e: FdEvent) => void) | undefined;
  clientDropped(kind: 'delivery' | 'fdEvent', key: string): void {
    this.drops.push(`${kind} ${key}`);
  }
  subscribeGroup(_group: string, onEvent: (e: FdEvent) => void): GroupSubscription {
    this.fdListener = onEvent;
    return { members: [], unsubscribe: () => {} };
  }
}

function harness() {
  const backend = new DropBackend();
  const frames: { type: number; body: Buffer }[] = [];
  let backlog = 0;
  const session = new LocalSession(
    backend,
    {
      write: (f) => frames.push({ type: f[4]!, body: f.subarray(5) }),
      backlog: () => backlog,
      end: () => {},
    },
    { maxFrameBytes: 64 * 1024, highWaterBytes: LIMIT },
  );
  let id = 0;
  const request = async (op: string, args: Record<string, unknown> = {}) => {
    const rid = ++id;
    session.data(encodeJsonFrame(FrameType.Request, { id: rid, op, ...args }));
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
    const reply = frames
      .filter((f) => f.type === FrameType.Reply)
      .map((f) => JSON.parse(f.body.toString()) as { id: number; ok: boolean; result: never })
      .find((r) => r.id === rid);
    if (!reply?.ok) throw new Error(`no ok reply to ${op}: ${JSON.stringify(reply)}`);
    return reply.result as Record<string, unknown>;
  };
  return {
    backend,
    session,
    frames,
    request,
    setBacklog: (n: number) => {
      backlog = n;
    },
  };
}

const event = { group: 'g', member: 'h2', state: 'up' } as unknown as FdEvent;

describe('local API: a client that does not read', () => {
  it('gets frames while its backlog is at the limit, loses them past it, and sees the count', async () => {
    const h = harness();
    await h.request('hello', { version: 1 });
    const remote = h.backend.addRemote('rx');
    const { handle } = (await h.request('listen', { lane: 'rx' })) as { handle: number };
    const deliveries = () => h.frames.filter((f) => f.type === FrameType.Delivery).length;

    h.setBacklog(LIMIT);
    h.backend.deliver(remote.laneId, 1, 0, 0, new Uint8Array(4));
    expect(deliveries()).toBe(1);

    h.setBacklog(LIMIT + 1);
    for (let seq = 2; seq <= 4; seq++) h.backend.deliver(remote.laneId, seq, 0, 0, new Uint8Array(4));
    expect(deliveries()).toBe(1);
    expect(h.session.droppedDeliveries).toBe(3);
    expect(h.backend.drops).toEqual(Array(3).fill(`delivery ${remote.laneId}`));

    h.setBacklog(0);
    const counters = await h.request('counters', { lane: handle });
    expect(counters).toMatchObject({ laneId: remote.laneId, droppedDeliveries: 3 });

    await h.request('fdSubscribe', { group: 'g' });
    h.setBacklog(LIMIT + 1);
    h.backend.fdListener!(event);
    expect(h.session.droppedFdEvents).toBe(1);
    expect(h.backend.drops.at(-1)).toBe('fdEvent g');
    h.setBacklog(LIMIT);
    h.backend.fdListener!(event);
    expect(h.frames.filter((f) => f.type === FrameType.FdEvent)).toHaveLength(1);
  });

  it('counts per connection: a second listener that reads loses nothing', async () => {
    const a = harness();
    const remote = a.backend.addRemote('rx');
    await a.request('hello', { version: 1 });
    const { handle } = (await a.request('listen', { lane: 'rx' })) as { handle: number };
    // Another reader of the same lane on the same backend, keeping up.
    const seen: number[] = [];
    const reader: LocalSubscriber = { onDelivery: (d) => seen.push(d.seq), onEvent() {} };
    a.backend.subscribe(remote.laneId, reader);
    a.setBacklog(LIMIT + 1);
    a.backend.deliver(remote.laneId, 1, 0, 0, new Uint8Array(1));
    expect(seen).toEqual([1]);
    a.setBacklog(0);
    expect(await a.request('counters', { lane: handle })).toMatchObject({ droppedDeliveries: 1 });
  });
});

describe('ClientDrops', () => {
  function recording() {
    const lines: { obj: Record<string, unknown>; msg: string }[] = [];
    const log: AgentLog = {
      info() {},
      error() {},
      warn: (obj, msg) => lines.push({ obj: obj as Record<string, unknown>, msg }),
    };
    return { log, lines };
  }

  it('logs a burst once, then at most once per interval with the count since, per lane', () => {
    const { log, lines } = recording();
    let now = 1_000_000;
    const drops = new ClientDrops(log, { logEveryMs: 10_000, nowMs: () => now });
    for (let i = 0; i < 5_000; i++) drops.record('delivery', 'L1');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.obj).toEqual({ lane: 'L1', dropped: 1, total: 1 });
    expect(lines[0]!.msg).toMatch(/dropping deliveries/);

    drops.record('delivery', 'L2'); // another lane has its own line
    expect(lines.at(-1)!.obj).toEqual({ lane: 'L2', dropped: 1, total: 1 });

    now += 9_999;
    drops.record('delivery', 'L1');
    expect(lines).toHaveLength(2);
    now += 1;
    drops.record('delivery', 'L1');
    expect(lines).toHaveLength(3);
    expect(lines[2]!.obj).toEqual({ lane: 'L1', dropped: 5_001, total: 5_002 });

    drops.record('fdEvent', 'g');
    expect(lines.at(-1)!.obj).toEqual({ group: 'g', dropped: 1, total: 1 });
    expect(lines.at(-1)!.msg).toMatch(/failure-detector events/);
  });

  it('are served as metrics per lane and per group; lanes that left are forgotten', async () => {
    const drops = new ClientDrops(recording().log);
    for (let i = 0; i < 7; i++) drops.record('delivery', 'L1');
    drops.record('delivery', 'L2');
    drops.record('fdEvent', 'g');
    const registry = createAgentMetrics({
      engine: new FakeEngine(),
      latency: new LatencyRecorder(),
      status: () => ({ epoch: 0, version: 0, connected: true, lanes: 0 }),
      qosErrors: () => 0,
      clientDrops: drops,
    });
    const text = await registry.metrics();
    expect(text).toContain('xlane_local_dropped_deliveries_total{lane="L1"} 7');
    expect(text).toContain('xlane_local_dropped_deliveries_total{lane="L2"} 1');
    expect(text).toContain('xlane_local_dropped_fd_events_total{group="g"} 1');
    drops.retainLanes(new Set(['L2']));
    expect(await registry.metrics()).not.toContain('lane="L1"');
  });
});
