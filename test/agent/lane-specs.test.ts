// Grant → engine specs and the desired-vs-current diff (pure), and EngineSync applying it.
import { describe, expect, it } from 'vitest';
import { EngineSync } from '../../src/agent/engine-sync.js';
import { applySnapshot, applyUpdate, diffBooks, emptyBook, findGrant } from '../../src/agent/grant-book.js';
import { desiredLaneSpecs, diffLaneSpecs, emptySpecs } from '../../src/agent/lane-specs.js';
import { FakeEngine } from './fake-engine.js';
import { grant, PEERS } from './grants.js';

const ctx = (host: string, peers = PEERS) => ({ host, peers, expressPort: 7400 });

describe('desiredLaneSpecs', () => {
  it('makes the sender spec on the sender host and the receiver spec on each receiver', () => {
    const g = grant('L7', {
      receivers: [
        { host: 'h2', path: [], lambdaMinNs: 10_000, lambdaMaxNs: 90_000, jitterNs: 80_000 },
        { host: 'h3', path: [], lambdaMinNs: 11_000, lambdaMaxNs: 95_000, jitterNs: 84_000 },
      ],
    });
    const onH1 = desiredLaneSpecs([g], ctx('h1'));
    expect(onH1.errors).toEqual([]);
    expect([...onH1.specs.receivers.keys()]).toEqual([]);
    expect(onH1.specs.senders.get('L7')).toEqual({
      laneId: 'L7',
      wireId: 7,
      epoch: 3,
      maxPayloadBytes: 64,
      minPeriodNs: 100_000,
      policy: 'reject',
      dscp: 46,
      priority: 6,
      srcPort: 20_001,
      destinations: [
        { host: 'h2', address: '10.0.0.2', port: 7400 },
        { host: 'h3', address: '10.0.0.3', port: 7400 },
      ],
    });
    const onH3 = desiredLaneSpecs([g], ctx('h3'));
    expect([...onH3.specs.senders.keys()]).toEqual([]);
    expect(onH3.specs.receivers.get('L7')).toEqual({
      laneId: 'L7',
      wireId: 7,
      epoch: 3,
      senderAddress: '10.0.0.1',
      maxPayloadBytes: 64,
      lambdaMinNs: 11_000,
      lambdaMaxNs: 95_000,
    });
  });

  it("a receiver whose clock domain is not the sender's measures no latency; the same or an unknown one does", () => {
    const on = (own: string | undefined, sender: string | undefined) =>
      desiredLaneSpecs(
        [grant('L7', sender === undefined ? {} : { senderClockDomain: sender })],
        own === undefined ? ctx('h2') : { ...ctx('h2'), clockDomain: own },
      ).specs.receivers.get('L7');
    expect(on('boot-b', 'boot-a')?.sharedClock).toBe(false);
    expect(on('boot-a', 'boot-a')).not.toHaveProperty('sharedClock');
    expect(on(undefined, 'boot-a')).not.toHaveProperty('sharedClock');
    expect(on('boot-b', undefined)).not.toHaveProperty('sharedClock');
    // the sender's own spec has nothing to do with it
    const sender = desiredLaneSpecs([grant('L7', { senderClockDomain: 'boot-a' })], {
      ...ctx('h1'),
      clockDomain: 'boot-x',
    }).specs.senders.get('L7');
    expect(sender).not.toHaveProperty('sharedClock');
    // the sender's machine rebooting into another domain re-applies the receiver
    const before = desiredLaneSpecs([grant('L7')], { ...ctx('h2'), clockDomain: 'boot-b' }).specs;
    const after = desiredLaneSpecs([grant('L7', { senderClockDomain: 'boot-a' })], {
      ...ctx('h2'),
      clockDomain: 'boot-b',
    }).specs;
    expect(diffLaneSpecs(after, before)).toEqual([{ op: 'setReceiver', spec: after.receivers.get('L7') }]);
  });

  it("hands the grant's release jitter to the sender's engine, and re-applies the lane when it changes", () => {
    const g = grant('L7', { releaseJitterNs: 20_000 });
    const desired = desiredLaneSpecs([g], ctx('h1')).specs;
    expect(desired.senders.get('L7')?.releaseJitterNs).toBe(20_000);
    const before = desiredLaneSpecs([grant('L7')], ctx('h1')).specs;
    expect(before.senders.get('L7')).not.toHaveProperty('releaseJitterNs');
    expect(diffLaneSpecs(desired, before)).toEqual([{ op: 'setSender', spec: desired.senders.get('L7') }]);
  });

  it("turns the grant's realtime phase into the engine's monotonic one, only with a release jitter", () => {
    // CLOCK_REALTIME − CLOCK_MONOTONIC of 1.8e18 + 12_345 ns: past 2^53, so the math must be exact.
    const offset = 1_800_000_000_000_012_345n;
    const at = { ...ctx('h1'), realtimeOffsetNs: () => offset };
    const g = grant('L7', { releaseJitterNs: 20_000, phaseNs: 30_000 });
    const phase = desiredLaneSpecs([g], at).specs.senders.get('L7')!.phaseNs!;
    // Realtime t ≡ 30_000 (mod π) ⇔ monotonic t − offset ≡ 30_000 − offset (mod π).
    expect(phase).toBe(Number((((30_000n - offset) % 100_000n) + 100_000n) % 100_000n));
    expect(phase).toBe(17_655);
    // Without E the engine could not keep a phase: none is handed over (nor would it change the
    // spec when the clock is re-measured).
    const noE = desiredLaneSpecs([grant('L7', { phaseNs: 30_000 })], at).specs.senders.get('L7');
    expect(noE).not.toHaveProperty('phaseNs');
    // Without a clock (a bench, or a test) neither; nor for an out-of-range phase.
    expect(desiredLaneSpecs([g], ctx('h1')).specs.senders.get('L7')).not.toHaveProperty('phaseNs');
    const bad = grant('L7', { releaseJitterNs: 20_000, phaseNs: 100_000 });
    expect(desiredLaneSpecs([bad], at).specs.senders.get('L7')).not.toHaveProperty('phaseNs');
    // A new phase is a new sender spec.
    const moved = desiredLaneSpecs([grant('L7', { releaseJitterNs: 20_000, phaseNs: 80_000 })], at).specs;
    expect(diffLaneSpecs(moved, desiredLaneSpecs([g], at).specs)).toEqual([
      { op: 'setSender', spec: moved.senders.get('L7') },
    ]);
  });

  it('configures a pending lane at its receivers but not at its sender', () => {
    const g = grant('L2', { state: 'pending' });
    expect(desiredLaneSpecs([g], ctx('h1')).specs.senders.size).toBe(0);
    expect(desiredLaneSpecs([g], ctx('h2')).specs.receivers.has('L2')).toBe(true);
  });

  it('leaves out, and reports, a lane whose peer has no known address', () => {
    const peers = new Map([['h1', '10.0.0.1']]);
    const asSender = desiredLaneSpecs([grant('L1')], ctx('h1', peers));
    expect(asSender.specs.senders.size).toBe(0);
    expect(asSender.errors).toEqual([
      { laneId: 'L1', role: 'sender', message: 'no address for receiver(s) h2', code: 'XL_ERR_VALIDATION' },
    ]);
    const asReceiver = desiredLaneSpecs([grant('L1')], ctx('h2', new Map([['h2', '10.0.0.2']])));
    expect(asReceiver.specs.receivers.size).toBe(0);
    expect(asReceiver.errors[0]).toMatchObject({ laneId: 'L1', role: 'receiver' });
  });
});

describe('diffLaneSpecs', () => {
  it('is empty when the engine already holds the desired specs', () => {
    const { specs } = desiredLaneSpecs(
      [grant('L1'), grant('L2', { sender: 'h2', receivers: undefined })],
      ctx('h1'),
    );
    expect(diffLaneSpecs(specs, specs)).toEqual([]);
  });

  it('removes first, then sets receivers, then senders; only what differs', () => {
    const before = desiredLaneSpecs(
      [
        grant('L1'),
        grant('L2'),
        grant('L3', {
          sender: 'h2',
          receivers: [{ host: 'h1', path: [], lambdaMinNs: 1, lambdaMaxNs: 2, jitterNs: 1 }],
        }),
      ],
      ctx('h1'),
    ).specs;
    const after = desiredLaneSpecs(
      [
        grant('L1'), // unchanged
        grant('L2', { minPeriodNs: 200_000, epoch: 4 }), // tightened
        grant('L4', {
          sender: 'h3',
          receivers: [{ host: 'h1', path: [], lambdaMinNs: 1, lambdaMaxNs: 2, jitterNs: 1 }],
        }),
      ],
      ctx('h1'),
    ).specs;
    const ops = diffLaneSpecs(after, before);
    expect(ops.map((o) => [o.op, 'laneId' in o ? o.laneId : o.spec.laneId])).toEqual([
      ['removeReceiver', 'L3'],
      ['setReceiver', 'L4'],
      ['setSender', 'L2'],
    ]);
    expect(diffLaneSpecs(after, emptySpecs()).map((o) => o.op)).toEqual([
      'setReceiver',
      'setSender',
      'setSender',
    ]);
  });
});

describe('EngineSync', () => {
  it('applies only differences and stops a sender the engine refused (fail closed)', () => {
    const engine = new FakeEngine();
    const sync = new EngineSync(engine, ctx('h1'));
    sync.apply([grant('L1'), grant('L2')]);
    expect([...engine.senders.keys()]).toEqual(['L1', 'L2']);
    engine.calls.length = 0;
    expect(sync.apply([grant('L1'), grant('L2')]).ops).toEqual([]);
    expect(engine.calls).toEqual([]);

    engine.failSender.add('L2');
    const r = sync.apply([grant('L1'), grant('L2', { minPeriodNs: 300_000 })]);
    expect(r.errors).toEqual([{ laneId: 'L2', role: 'sender', message: 'engine refused L2' }]);
    // The engine must not keep sending L2 on its old, looser contract.
    expect([...engine.senders.keys()]).toEqual(['L1']);
    expect(sync.applied.senders.has('L2')).toBe(false);
    engine.failSender.clear();
    sync.apply([grant('L1'), grant('L2', { minPeriodNs: 300_000 })]);
    expect(engine.senders.get('L2')?.minPeriodNs).toBe(300_000);
  });
});

describe('grant book', () => {
  it('snapshot replaces, update merges and removes, diff names what changed', () => {
    const b1 = applySnapshot(emptyBook(), {
      type: 'snapshot',
      version: 4,
      epoch: 9,
      grants: [grant('L1'), grant('L2')],
    });
    const b2 = applyUpdate(b1, {
      type: 'update',
      version: 5,
      epoch: 10,
      grants: [grant('L2', { state: 'pending' }), grant('L3', { name: 'fd' })],
      removed: ['L1'],
    });
    expect([b2.version, b2.epoch, [...b2.grants.keys()]]).toEqual([5, 10, ['L2', 'L3']]);
    const d = diffBooks(b1, b2);
    expect(d.changed.map((g) => g.laneId)).toEqual(['L2', 'L3']);
    expect(d.removed).toEqual(['L1']);
    expect(findGrant(b2, 'fd')?.laneId).toBe('L3');
    const resync = applySnapshot(b2, {
      type: 'snapshot',
      version: 5,
      epoch: 10,
      grants: [...b2.grants.values()],
    });
    expect(diffBooks(b2, resync)).toEqual({ changed: [], removed: [] });
  });
});
