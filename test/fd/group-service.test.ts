// The group service between the agent's grant book and its engine: it opens this host's one-to-many
// heartbeat lane, recognises the other members' lanes, has the engine (a fake) send heartbeats with
// the incarnation and watch receivers with TO from the grant, moves TO with the grant, and turns the
// engine's liveness events into member events. Driven through the agent's own EngineSync.
import { describe, expect, it } from 'vitest';
import { EngineSync } from '../../src/agent/engine-sync.js';
import type { WireGrant } from '../../src/controller/views.js';
import { XlaneError } from '../../src/errors.js';
import { FdGroupService } from '../../src/fd/group-service.js';
import type { FdEvent } from '../../src/fd/types.js';
import { FakeFdController, FdFakeEngine, fdGrant, manualClock, PEERS, until } from './fakes.js';

const MS = 1_000_000;

function setup() {
  const clock = manualClock();
  const engine = new FdFakeEngine();
  const controller = new FakeFdController();
  const logs: { level: string; msg: string; obj: object }[] = [];
  const at = (level: string) => (obj: object, msg: string) => logs.push({ level, msg, obj });
  let grants: WireGrant[] = [];
  const svc: FdGroupService = new FdGroupService({
    host: 'h1',
    groups: [{ name: 'g', members: ['h1', 'h2', 'h3'] }],
    controller,
    incarnation: 42,
    periodNs: 2 * MS,
    confirmNs: 100 * MS,
    timeoutHoldNs: 10 * MS,
    now: clock.now,
    log: { info: at('info'), warn: at('warn'), error: at('error') },
    backoff: { initialMs: 1, maxMs: 2, random: () => 0 },
    onSpecsChanged: () => sync.apply(grants),
  });
  const sync = new EngineSync(engine, {
    host: 'h1',
    peers: PEERS,
    expressPort: 7400,
    heartbeats: svc.heartbeats,
  });
  engine.onLiveness((e) => svc.liveness(e));
  const events: FdEvent[] = [];
  const sub = svc.subscribe('g', (e) => events.push(e));
  /** What the agent does with every new book: service first, then the engine. */
  const apply = (next: WireGrant[]) => {
    grants = next;
    svc.observe(next);
    return sync.apply(next);
  };
  return { clock, engine, controller, svc, apply, events, sub, logs };
}

// h2's and h3's FD lanes towards h1 (and each other), as the controller grants them.
const h2Lane = (over = {}) => fdGrant('L2', 'xfd.g.h2', 'h2', ['h1', 'h3'], over);
const h3Lane = (over = {}) => fdGrant('L3', 'xfd.g.h3', 'h3', ['h1', 'h2'], over);

describe('FdGroupService', () => {
  it('opens ONE one-to-many heartbeat lane to the other members, then sends heartbeats on it with the incarnation', async () => {
    const t = setup();
    t.apply([]);
    await until(() => t.controller.opened.length === 1, 'lane opened');
    expect(t.controller.opened[0]).toEqual({
      name: 'xfd.g.h1',
      sender: 'h1',
      receivers: ['h2', 'h3'],
      maxPayloadBytes: 1,
      minPeriodNs: 2 * MS,
      policy: 'coalesce',
    });
    // Its grant arrives pending (receivers acknowledging), then live: only then does the engine send.
    const own = fdGrant('L100', 'xfd.g.h1', 'h1', ['h2', 'h3'], { periodNs: 2 * MS, state: 'pending' });
    t.apply([own]);
    expect(t.engine.senders.has('L100')).toBe(false);
    t.apply([{ ...own, state: 'live' }]);
    expect(t.engine.senders.get('L100')).toMatchObject({
      heartbeat: { incarnation: 42 },
      minPeriodNs: 2 * MS,
      destinations: [
        { host: 'h2', address: '10.0.0.2', port: 7400 },
        { host: 'h3', address: '10.0.0.3', port: 7400 },
      ],
    });
    // No second open while the lane exists.
    t.apply([{ ...own, state: 'live' }, h2Lane()]);
    await new Promise((r) => setTimeout(r, 5));
    expect(t.controller.opened).toHaveLength(1);
  });

  it('watches the other members’ live FD lanes with TO = π + λ_min + 2δ and no delivery; plain lanes stay plain', () => {
    const t = setup();
    const plain = fdGrant('L7', 'raft', 'h2', ['h1']);
    const pending = h3Lane({ state: 'pending' });
    t.apply([h2Lane({ periodNs: MS, minNs: 10_000, maxNs: 60_000 }), pending, plain]);
    // 1 000 000 + 10 000 + 2 × 50 000
    expect(t.engine.receivers.get('L2')?.heartbeat).toEqual({ deliver: false, timeoutNs: 1_110_000 });
    // A pending lane's sender may not send yet: watching it would suspect a healthy member.
    expect(t.engine.receivers.get('L3')?.heartbeat).toBeUndefined();
    expect(t.engine.receivers.get('L7')?.heartbeat).toBeUndefined();
    expect(t.svc.statuses().map((s) => [s.member, s.state, s.timeoutNs, s.laneId])).toEqual([
      ['h2', 'unknown', 1_110_000, 'L2'],
      ['h3', 'unknown', 0, undefined],
    ]);
    t.apply([h2Lane({ periodNs: MS, minNs: 10_000, maxNs: 60_000 }), { ...pending, state: 'live' }, plain]);
    expect(t.engine.receivers.get('L3')?.heartbeat?.timeoutNs).toBe(1_110_000);
  });

  it('ignores a lane that only claims to be a member’s FD lane', () => {
    const t = setup();
    t.apply([fdGrant('L9', 'xfd.g.h2', 'h3', ['h1'])]);
    expect(t.engine.receivers.get('L9')?.heartbeat).toBeUndefined();
    expect(t.logs.some((l) => l.level === 'warn' && /named for h2 but sent by h3/.test(l.msg))).toBe(true);
  });

  it('turns liveness events into member events for subscribers: up, suspect, down, restart', () => {
    const t = setup();
    t.apply([h2Lane()]);
    const now = t.clock.now();
    t.engine.raise({ laneId: 'L2', state: 'alive', incarnation: 5, lastArrivalNs: now, atNs: now });
    t.engine.raise({
      laneId: 'L2',
      state: 'suspect',
      incarnation: 5,
      lastArrivalNs: now,
      atNs: now + 1.13 * MS,
    });
    t.clock.advance(101.13 * MS);
    t.svc.tick();
    t.engine.raise({
      laneId: 'L2',
      state: 'alive',
      incarnation: 6,
      lastArrivalNs: now + 2e9,
      atNs: now + 2e9,
    });
    expect(t.events.map((e) => [e.member, e.state, e.cause, e.incarnation])).toEqual([
      ['h2', 'up', 'heartbeat', 5],
      ['h2', 'suspect', 'timeout', 5],
      ['h2', 'down', 'confirmed', 5],
      ['h2', 'up', 'heartbeat', 6],
    ]);
    expect(t.events[1]).toMatchObject({
      group: 'g',
      lastHeartbeatNs: now,
      detectedNs: now + 1.13 * MS,
      timeoutNs: 1_110_000,
    });
    // Events for a lane the service does not watch are not its business.
    t.engine.raise({ laneId: 'L7', state: 'suspect', incarnation: 1, lastArrivalNs: 1, atNs: now });
    expect(t.events).toHaveLength(4);
    expect(t.logs.filter((l) => /fd: member (up|suspect|down)/.test(l.msg)).map((l) => l.level)).toEqual([
      'info',
      'warn',
      'warn',
      'info',
    ]);
  });

  it('moves TO with the grant: larger at once, smaller after the hold (then the engine is re-synced)', () => {
    const t = setup();
    t.apply([h2Lane({ periodNs: MS, minNs: 10_000, maxNs: 60_000 })]); // TO 1.11 ms
    t.apply([h2Lane({ periodNs: MS, minNs: 10_000, maxNs: 160_000 })]); // wider window: 1.31 ms at once
    expect(t.engine.receivers.get('L2')?.heartbeat?.timeoutNs).toBe(1_310_000);
    expect(t.svc.statuses()[0]?.timeoutNs).toBe(1_310_000);
    t.apply([h2Lane({ periodNs: MS / 2, minNs: 10_000, maxNs: 160_000 })]); // shorter period: 0.81 ms, held
    expect(t.engine.receivers.get('L2')?.heartbeat?.timeoutNs).toBe(1_310_000);
    t.clock.advance(10 * MS - 1);
    t.svc.tick();
    expect(t.engine.receivers.get('L2')?.heartbeat?.timeoutNs).toBe(1_310_000);
    t.clock.advance(1);
    t.svc.tick();
    expect(t.engine.receivers.get('L2')?.heartbeat?.timeoutNs).toBe(810_000);
    expect(t.svc.statuses()[0]?.timeoutNs).toBe(810_000);
  });

  it('a member whose lane is closed goes down (lane-closed) and its receiver is unwatched', () => {
    const t = setup();
    t.apply([h2Lane()]);
    t.engine.raise({ laneId: 'L2', state: 'alive', incarnation: 5, lastArrivalNs: 1, atNs: 1 });
    t.apply([]);
    expect(t.events.at(-1)).toMatchObject({ member: 'h2', state: 'down', cause: 'lane-closed' });
    expect(t.engine.receivers.has('L2')).toBe(false);
  });

  it('replaces its own lane when the group’s members changed since it was opened', async () => {
    const t = setup();
    t.apply([fdGrant('L50', 'xfd.g.h1', 'h1', ['h2'])]); // opened when the group was h1,h2
    await until(() => t.controller.opened.length === 1, 'reopened');
    expect(t.controller.closed).toEqual(['L50']);
    expect(t.controller.opened[0]?.receivers).toEqual(['h2', 'h3']);
  });

  it('retries opening its lane after a refusal', async () => {
    const t = setup();
    t.controller.failNext = new XlaneError('XL_ERR_ADMISSION_REJECTED', 'no room on s1→h3');
    t.apply([]);
    await until(() => t.controller.opened.length === 1, 'opened on retry');
    expect(t.logs.some((l) => l.level === 'warn' && /could not open the heartbeat lane/.test(l.msg))).toBe(
      true,
    );
  });

  it('subscribers get the current table first; unknown groups are XL_ERR_NOT_FOUND; unsubscribe stops events', () => {
    const t = setup();
    t.apply([h2Lane()]);
    expect(t.svc.subscribe('g', () => {}).members.map((m) => m.member)).toEqual(['h2', 'h3']);
    expect(() => t.svc.subscribe('nope', () => {})).toThrow(
      expect.objectContaining({ code: 'XL_ERR_NOT_FOUND' }),
    );
    t.sub.unsubscribe();
    t.engine.raise({ laneId: 'L2', state: 'alive', incarnation: 5, lastArrivalNs: 1, atNs: 1 });
    expect(t.events).toEqual([]);
  });

  it('a subscriber that throws does not stop the others', () => {
    const t = setup();
    t.apply([h2Lane()]);
    t.svc.subscribe('g', () => {
      throw new Error('boom');
    });
    const seen: FdEvent[] = [];
    t.svc.subscribe('g', (e) => seen.push(e));
    t.engine.raise({ laneId: 'L2', state: 'alive', incarnation: 5, lastArrivalNs: 1, atNs: 1 });
    expect(seen).toHaveLength(1);
    expect(t.logs.some((l) => l.level === 'error' && /subscriber threw/.test(l.msg))).toBe(true);
  });
});
