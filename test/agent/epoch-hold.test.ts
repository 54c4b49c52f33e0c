// A receiver must not drop its sender's legitimate frames because it learnt of a grant change
// first: EngineSync keeps the previous epoch (and the larger σ_max) acceptable for a grace, then
// rises to the new grant. Found by the namespace integration test (a staleEpoch drop, one lost).
import { describe, expect, it } from 'vitest';
import { EngineSync } from '../../src/agent/engine-sync.js';
import { FakeEngine } from './fake-engine.js';
import { grant, PEERS } from './grants.js';

const CTX = { host: 'h2', peers: PEERS, expressPort: 7400 };

function setup() {
  let now = 1_000;
  const engine = new FakeEngine();
  const sync = new EngineSync(engine, CTX, { graceMs: 500, now: () => now });
  return { engine, sync, advance: (ms: number) => (now += ms), at: () => now };
}

describe('EngineSync epoch hold at a receiver', () => {
  it('keeps the previous epoch and the larger σ_max for the grace, then takes the new grant', () => {
    const { engine, sync, advance, at } = setup();
    sync.apply([grant('L1', { epoch: 3, maxPayloadBytes: 128 })]);
    expect(engine.receivers.get('L1')).toMatchObject({ epoch: 3, maxPayloadBytes: 128 });
    expect(sync.nextHoldEnd).toBeUndefined();

    const widened = {
      host: 'h2',
      path: ['h1', 's1', 'h2'],
      lambdaMinNs: 12_000,
      lambdaMaxNs: 200_000,
      jitterNs: 0,
    };
    sync.apply([grant('L1', { epoch: 5, maxPayloadBytes: 64, receivers: [widened] })]);
    // The new window applies at once; the old epoch and σ stay acceptable.
    expect(engine.receivers.get('L1')).toMatchObject({
      epoch: 3,
      maxPayloadBytes: 128,
      lambdaMaxNs: 200_000,
    });
    expect(sync.nextHoldEnd).toBe(at() + 500);

    advance(499);
    expect(sync.apply([grant('L1', { epoch: 5, maxPayloadBytes: 64, receivers: [widened] })]).ops).toEqual(
      [],
    );
    advance(1);
    sync.apply([grant('L1', { epoch: 5, maxPayloadBytes: 64, receivers: [widened] })]);
    expect(engine.receivers.get('L1')).toMatchObject({ epoch: 5, maxPayloadBytes: 64 });
    expect(sync.nextHoldEnd).toBeUndefined();
  });

  it('holds the oldest epoch across changes in quick succession, and never holds a new or removed lane', () => {
    const { engine, sync, advance } = setup();
    sync.apply([grant('L1', { epoch: 3 })]);
    sync.apply([grant('L1', { epoch: 4 }), grant('L2', { epoch: 4 })]);
    advance(100);
    sync.apply([grant('L1', { epoch: 6 }), grant('L2', { epoch: 4 })]);
    expect(engine.receivers.get('L1')!.epoch).toBe(3);
    expect(engine.receivers.get('L2')!.epoch).toBe(4); // new at 4: nothing older to accept
    sync.apply([grant('L2', { epoch: 4 })]);
    expect(engine.receivers.has('L1')).toBe(false);
    expect(sync.nextHoldEnd).toBeUndefined();
  });

  it('leaves senders alone: the sender moves to the new epoch at once', () => {
    const engine = new FakeEngine();
    const sync = new EngineSync(engine, { ...CTX, host: 'h1' }, { graceMs: 500, now: () => 0 });
    sync.apply([grant('L1', { epoch: 3 })]);
    sync.apply([grant('L1', { epoch: 4 })]);
    expect(engine.senders.get('L1')!.epoch).toBe(4);
  });
});
