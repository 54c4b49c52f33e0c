import { describe, expect, it } from 'vitest';
import { type HostUpdate, Lifecycle } from '../../src/controller/lifecycle.js';
import { openSqliteStore } from '../../src/controller/sqlite-store.js';
import type { LaneStore, StoreMutation } from '../../src/controller/store.js';
import { XlaneError } from '../../src/errors.js';
import { fakeFactory, threeHostSpec } from './fake-allocator.js';

const req = (sender: string, receivers: string[], name?: string) => ({
  sender,
  receivers,
  maxPayloadBytes: 64,
  minPeriodNs: 100_000,
  ...(name ? { name } : {}),
});

function setup(store: LaneStore = openSqliteStore(':memory:')) {
  const lc = new Lifecycle(store, fakeFactory, { topology: threeHostSpec() });
  const updates: HostUpdate[] = [];
  lc.onUpdate((u) => updates.push(u));
  return { lc, updates, store };
}

describe('lane lifecycle', () => {
  it('a lane with nobody to wait for is live at once and pushed to sender and receiver', () => {
    const { lc, updates } = setup();
    const r = lc.openLane(req('h1', ['h2']));
    expect(r.lane.state).toBe('live');
    expect(r.lane.pendingHosts).toEqual([]);
    expect(updates.map((u) => u.host).sort()).toEqual(['h1', 'h2']);
    expect(updates.every((u) => u.version === 1 && u.grants[0]?.state === 'live')).toBe(true);
  });

  it('a new lane waits for its own registered receivers only, until they ack the version carrying it', () => {
    const { lc, updates, store } = setup();
    lc.registerHost('h1', {});
    // no receiver registered: nobody could drop its frames, so it is live at once
    const alone = lc.openLane(req('h1', ['h2']));
    expect(alone.lane).toMatchObject({ state: 'live', pendingHosts: [] });

    lc.registerHost('h3', {});
    updates.length = 0;
    const live: string[] = [];
    lc.onLaneState((id, s) => live.push(`${id}:${s}`));
    // h3 is registered and receives it; h2 is not; the sender h1 is registered but learns the
    // state from its own stream, so it is not waited for
    const multi = lc.openLane(req('h1', ['h2', 'h3']));
    expect(multi.lane).toMatchObject({ state: 'pending', pendingHosts: ['h3'] });
    const toH3 = updates.find((u) => u.host === 'h3')!;
    expect(toH3.grants.map((g) => [g.laneId, g.state])).toEqual([[multi.lane.id, 'pending']]);
    const stored = store.load().lanes.find((l) => l.id === multi.lane.id)!;
    expect(stored.waitFor).toEqual({ h3: toH3.version });
    expect(live).toEqual([]);

    lc.ack('h3', toH3.version);
    expect(lc.getLane(multi.lane.id)).toMatchObject({ state: 'live', pendingHosts: [] });
    expect(live).toEqual([`${multi.lane.id}:live`]);
    expect(lc.getLane(alone.lane.id).state).toBe('live');
  });

  it('stays pending until a registered receiver of a widened window acks, then goes live', () => {
    const { lc, updates } = setup();
    lc.registerHost('h2', { agentVersion: 't' });
    const first = lc.openLane(req('h1', ['h2']));
    // h2 is a registered receiver of the first lane: it must hold that grant before frames arrive
    expect(first.lane).toMatchObject({ state: 'pending', pendingHosts: ['h2'] });
    lc.ack('h2', lc.host('h2').version);
    expect(lc.getLane(first.lane.id).state).toBe('live');
    const second = lc.openLane(req('h3', ['h2']));
    // the fake widens the window of the first lane: h2 (registered, receiver) must ack
    expect(second.changed.map((c) => c.laneId)).toEqual([first.lane.id]);
    expect(second.lane.state).toBe('pending');
    expect(second.lane.pendingHosts).toEqual(['h2']);
    const h2 = lc.host('h2');
    const live: string[] = [];
    lc.onLaneState((id, s) => live.push(`${id}:${s}`));
    updates.length = 0;
    lc.ack('h2', h2.version - 1);
    expect(lc.getLane(second.lane.id).state).toBe('pending');
    lc.ack('h2', h2.version);
    expect(lc.getLane(second.lane.id).state).toBe('live');
    expect(live).toEqual([`${second.lane.id}:live`]);
    // the sender learns it through its stream: the grant re-sent with state live
    const toSender = updates.find((u) => u.host === 'h3');
    expect(toSender?.grants.map((g) => [g.laneId, g.state])).toEqual([[second.lane.id, 'live']]);
  });

  it('waitLive resolves on the ack, and answers the pending view at the timeout', async () => {
    const { lc } = setup();
    lc.registerHost('h2', {});
    lc.openLane(req('h1', ['h2']));
    const { lane } = lc.openLane(req('h3', ['h2']));
    const timedOut = await lc.waitLive(lane.id, 5);
    expect(timedOut.state).toBe('pending');
    const waiting = lc.waitLive(lane.id, 10_000);
    lc.ack('h2', lc.host('h2').version);
    expect((await waiting).state).toBe('live');
  });

  it('refuses acks beyond the version sent, duplicate names, unknown hosts and lanes', () => {
    const { lc } = setup();
    lc.openLane(req('h1', ['h2'], 'fd'));
    expect(() => lc.ack('h1', 99)).toThrow(XlaneError);
    expect(() => lc.openLane(req('h3', ['h2'], 'fd'))).toThrow(/already exists/);
    expect(() => lc.registerHost('nope', {})).toThrow(
      expect.objectContaining({ code: 'XL_ERR_UNKNOWN_HOST' }),
    );
    expect(() => lc.closeLane('L99')).toThrow(expect.objectContaining({ code: 'XL_ERR_UNKNOWN_LANE' }));
  });

  it('closing pushes the removal and the loosened windows', () => {
    const { lc, updates } = setup();
    const a = lc.openLane(req('h1', ['h2']));
    const b = lc.openLane(req('h3', ['h2']));
    updates.length = 0;
    const r = lc.closeLane(b.lane.id);
    expect(r.changed.map((c) => c.laneId)).toEqual([a.lane.id]);
    const h2 = updates.find((u) => u.host === 'h2');
    expect(h2?.removed).toEqual([b.lane.id]);
    expect(h2?.grants.map((g) => g.laneId)).toEqual([a.lane.id]);
    expect(updates.find((u) => u.host === 'h3')?.removed).toEqual([b.lane.id]);
  });

  it('a topology change that drops a host revokes its lanes only with force, and releases waits on it', () => {
    const { lc } = setup();
    lc.registerHost('h2', {});
    const a = lc.openLane(req('h1', ['h2']));
    const b = lc.openLane(req('h3', ['h2']));
    expect(b.lane.state).toBe('pending');
    const without = threeHostSpec(['h1', 'h3']);
    expect(() => lc.replaceTopology(without)).toThrow(
      expect.objectContaining({ code: 'XL_ERR_TOPOLOGY_CONFLICT' }),
    );
    expect(lc.listLanes()).toHaveLength(2);
    const r = lc.replaceTopology(without, true);
    expect(r.revoked.sort()).toEqual([a.lane.id, b.lane.id].sort());
    expect(lc.listLanes()).toEqual([]);
    expect(lc.hosts().map((h) => h.name)).toEqual(['h1', 'h3']);
  });

  it('a failed store write leaves memory and allocator exactly as the store has them', () => {
    const inner = openSqliteStore(':memory:');
    let fail = false;
    const flaky: LaneStore = {
      load: () => inner.load(),
      apply: (m: StoreMutation) => {
        if (fail) throw new XlaneError('XL_ERR_STORE', 'disk full');
        inner.apply(m);
      },
      close: () => inner.close(),
    };
    const { lc } = setup(flaky);
    const a = lc.openLane(req('h1', ['h2']));
    const before = { lanes: lc.listLanes(), epoch: lc.epoch };
    fail = true;
    expect(() => lc.openLane(req('h3', ['h2']))).toThrow(/disk full/);
    expect({ lanes: lc.listLanes(), epoch: lc.epoch }).toEqual(before);
    fail = false;
    // the allocator did not keep the failed lane: the next admission sees one lane towards h2
    const b = lc.openLane(req('h3', ['h2']));
    expect(b.changed.map((c) => c.laneId)).toEqual([a.lane.id]);
    expect(b.lane.id).toBe('L2');
  });

  it('an allocator that throws (a bug) is rebuilt from the store, not left half-changed', () => {
    let boom = false;
    const factory = {
      create: fakeFactory.create,
      restore: fakeFactory.restore,
    };
    const store = openSqliteStore(':memory:');
    const lc = new Lifecycle(
      store,
      {
        create: (spec) => {
          const a = factory.create(spec);
          const admit = a.admit.bind(a);
          a.admit = (id, r) => {
            const res = admit(id, r);
            if (boom) throw new TypeError('bug after a partial change');
            return res;
          };
          return a;
        },
        restore: factory.restore,
      },
      { topology: threeHostSpec() },
    );
    lc.openLane(req('h1', ['h2']));
    const before = lc.listLanes();
    boom = true;
    expect(() => lc.openLane(req('h3', ['h2']))).toThrow(
      expect.objectContaining({ code: 'XL_ERR_INTERNAL' }),
    );
    expect(lc.listLanes()).toEqual(before);
    // the rebuilt allocator knows one lane towards h2, so the next admission moves exactly that one
    const next = lc.openLane(req('h3', ['h2']));
    expect(next.changed.map((c) => c.laneId)).toEqual([before[0]!.id]);
  });

  it('a grant with a non-finite bound fails atomically (XL_ERR_STORE) and a restart still succeeds', () => {
    const store = openSqliteStore(':memory:');
    let infinite = false;
    const lc = new Lifecycle(
      store,
      {
        create: (spec) => {
          const a = fakeFactory.create(spec);
          const admit = a.admit.bind(a);
          // what an absurd topology once made: λ_max of Infinity, which JSON would store as null
          a.admit = (id, r) => {
            const res = admit(id, r);
            if (!infinite || !res.ok) return res;
            const receivers = res.grant.receivers.map((x) => ({ ...x, lambdaMaxNs: Infinity }));
            return { ...res, grant: { ...res.grant, receivers } };
          };
          return a;
        },
        restore: fakeFactory.restore,
      },
      { topology: threeHostSpec() },
    );
    const a = lc.openLane(req('h1', ['h2']));
    const before = { lanes: lc.listLanes(), hosts: lc.hosts(), epoch: lc.epoch };
    infinite = true;
    expect(() => lc.openLane(req('h3', ['h2']))).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_STORE',
        message: expect.stringMatching(/Infinity.*lambdaMaxNs/),
      }),
    );
    expect({ lanes: lc.listLanes(), hosts: lc.hosts(), epoch: lc.epoch }).toEqual(before);
    const again = new Lifecycle(store, fakeFactory, { topology: threeHostSpec() });
    expect(again.listLanes()).toEqual([a.lane]);
  });

  it('a stored state the allocator cannot rebuild is XL_ERR_STORE with the reason, not a raw TypeError', () => {
    const store = openSqliteStore(':memory:');
    setup(store).lc.openLane(req('h1', ['h2']));
    const broken = {
      create: fakeFactory.create,
      restore: () => {
        throw new TypeError("Cannot read properties of null (reading 'laneId')");
      },
    };
    expect(() => new Lifecycle(store, broken, { topology: threeHostSpec() })).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_STORE',
        message: expect.stringMatching(
          /stored topology fake-3 .* cannot be restored: Cannot read properties/,
        ),
      }),
    );
  });

  it('survives a restart on the same store: lanes, grants and versions are unchanged', () => {
    const store = openSqliteStore(':memory:');
    const { lc } = setup(store);
    lc.registerHost('h2', {});
    lc.openLane(req('h1', ['h2']));
    lc.openLane(req('h3', ['h2']));
    const again = new Lifecycle(store, fakeFactory, { topology: threeHostSpec() });
    expect(again.listLanes()).toEqual(lc.listLanes());
    expect(again.hosts()).toEqual(lc.hosts());
    expect(again.epoch).toBe(lc.epoch);
    expect(again.topologyMismatch).toBe(false);
  });

  it("grants carry the sender's clock domain; a new one is pushed to the lane's hosts, a repeated one is not", () => {
    const store = openSqliteStore(':memory:');
    const { lc, updates } = setup(store);
    const lane = lc.openLane(req('h1', ['h2'])).lane;
    expect(lane.grant.senderClockDomain).toBeUndefined();
    lc.registerHost('h2', { clockDomain: 'boot-b' });
    lc.registerHost('h3', { clockDomain: 'boot-c' });
    updates.length = 0;
    // h1's agent comes up after the lane was granted: both ends learn its clock
    const h1 = lc.registerHost('h1', { clockDomain: 'boot-a' });
    expect(h1.clockDomain).toBe('boot-a');
    expect(updates.map((u) => u.host).sort()).toEqual(['h1', 'h2']);
    for (const u of updates) {
      expect(u.grants).toHaveLength(1);
      expect(u.grants[0]).toMatchObject({ laneId: lane.id, senderClockDomain: 'boot-a', state: 'live' });
      expect(u.version).toBe(lc.hosts().find((h) => h.name === u.host)!.version);
    }
    expect(lc.getLane(lane.id).grant.senderClockDomain).toBe('boot-a');
    expect(lc.grantsFor('h2').grants[0]?.senderClockDomain).toBe('boot-a');
    // the agent reconnecting registers again with the same id: nothing to push
    updates.length = 0;
    lc.registerHost('h1', { clockDomain: 'boot-a' });
    expect(updates).toEqual([]);
    // the machine rebooted: a new id is pushed again
    lc.registerHost('h1', { clockDomain: 'boot-a2' });
    expect(updates.find((u) => u.host === 'h2')?.grants[0]?.senderClockDomain).toBe('boot-a2');
    // and it is stored: a restarted controller still says it
    const again = new Lifecycle(store, fakeFactory, { topology: threeHostSpec() });
    expect(again.hosts().find((h) => h.name === 'h1')?.clockDomain).toBe('boot-a2');
    expect(again.getLane(lane.id).grant.senderClockDomain).toBe('boot-a2');
  });

  it('on restart the stored topology wins over a different one given at start', () => {
    const store = openSqliteStore(':memory:');
    const { lc } = setup(store);
    lc.replaceTopology(threeHostSpec(['h1', 'h2', 'h3', 'h4']));
    const again = new Lifecycle(store, fakeFactory, { topology: threeHostSpec() });
    expect(again.topologyMismatch).toBe(true);
    expect(again.topology.hosts.map((h) => h.name)).toEqual(['h1', 'h2', 'h3', 'h4']);
  });

  it('needs a topology when the store has none', () => {
    expect(() => new Lifecycle(openSqliteStore(':memory:'), fakeFactory)).toThrow(
      expect.objectContaining({ code: 'XL_ERR_TOPOLOGY' }),
    );
  });
});
