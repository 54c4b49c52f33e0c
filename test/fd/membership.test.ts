// The group state machine: suspect on the engine's timeout, alive again, confirmation to down, a
// restart (larger incarnation) as down + up, a lane that never speaks, a lane that goes away.
import { describe, expect, it } from 'vitest';
import type { LivenessEvent } from '../../src/engine/types.js';
import { Membership } from '../../src/fd/membership.js';

const MS = 1_000_000;
const CONFIRM = 100 * MS;

/** h2's lane is watched from t = 0; h3 has no lane (yet) unless asked. */
function group(watchH3 = false) {
  const m = new Membership({ group: 'g', self: 'h1', members: ['h1', 'h2', 'h3'], confirmNs: CONFIRM });
  m.watch('h2', 'L2', 1.4 * MS, 0);
  if (watchH3) m.watch('h3', 'L3', 1.4 * MS, 0);
  return m;
}

const ev = (over: Partial<LivenessEvent>): LivenessEvent => ({
  laneId: 'L2',
  state: 'alive',
  incarnation: 7,
  lastArrivalNs: 5 * MS,
  lastSentNs: 5 * MS - 20_000,
  atNs: 5 * MS,
  ...over,
});

describe('Membership', () => {
  it('tracks only the other members, all unknown at first', () => {
    const m = group();
    expect(m.statuses().map((s) => [s.member, s.state, s.timeoutNs, s.laneId])).toEqual([
      ['h2', 'unknown', 1.4 * MS, 'L2'],
      ['h3', 'unknown', 0, undefined],
    ]);
    expect(m.has('h1')).toBe(false);
  });

  it('first heartbeat → up; timeout → suspect; heartbeat → up again (same incarnation)', () => {
    const m = group();
    expect(m.liveness('h2', ev({}))).toEqual([
      {
        group: 'g',
        member: 'h2',
        state: 'up',
        cause: 'heartbeat',
        incarnation: 7,
        lastHeartbeatNs: 5 * MS,
        lastHeartbeatSentNs: 5 * MS - 20_000,
        detectedNs: 5 * MS,
        timeoutNs: 1.4 * MS,
      },
    ]);
    // Engine: nothing since 9 ms, watchdog fired at 10.4 ms.
    const s = m.liveness(
      'h2',
      ev({ state: 'suspect', lastArrivalNs: 9 * MS, lastSentNs: 9 * MS - 1, atNs: 10.4 * MS }),
    );
    expect(s).toMatchObject([
      { state: 'suspect', cause: 'timeout', lastHeartbeatNs: 9 * MS, detectedNs: 10.4 * MS },
    ]);
    expect(m.status('h2')).toMatchObject({ state: 'suspect', suspicions: 1, lastDetectionNs: 10.4 * MS });
    // A repeated suspect is not a change.
    expect(m.liveness('h2', ev({ state: 'suspect', lastArrivalNs: 9 * MS, atNs: 11 * MS }))).toEqual([]);
    expect(m.liveness('h2', ev({ lastArrivalNs: 12 * MS, atNs: 12 * MS }))).toMatchObject([
      { state: 'up', cause: 'heartbeat', incarnation: 7, detectedNs: 12 * MS },
    ]);
    // Once up, further alive events change nothing.
    expect(m.liveness('h2', ev({ lastArrivalNs: 13 * MS, atNs: 13 * MS }))).toEqual([]);
  });

  it('suspected for the confirm time → down (confirmed); a heartbeat of the same incarnation → up', () => {
    const m = group();
    m.liveness('h2', ev({}));
    m.liveness('h2', ev({ state: 'suspect', atNs: 6.4 * MS }));
    expect(m.nextDeadlineNs()).toBe(6.4 * MS + CONFIRM);
    expect(m.tick(6.4 * MS + CONFIRM - 1)).toEqual([]);
    expect(m.tick(6.4 * MS + CONFIRM)).toMatchObject([
      { member: 'h2', state: 'down', cause: 'confirmed', incarnation: 7, detectedNs: 6.4 * MS + CONFIRM },
    ]);
    expect(m.status('h2')).toMatchObject({ state: 'down', suspicions: 1, downs: 1 });
    expect(m.tick(10 * CONFIRM)).toEqual([]);
    // A paused process (SIGSTOP) continued: same incarnation speaks again.
    expect(m.liveness('h2', ev({ lastArrivalNs: 300 * MS, atNs: 300 * MS }))).toMatchObject([
      { state: 'up', cause: 'heartbeat', incarnation: 7 },
    ]);
  });

  it('a heartbeat before the confirm time cancels the confirmation', () => {
    const m = group();
    m.liveness('h2', ev({}));
    m.liveness('h2', ev({ state: 'suspect', atNs: 6.4 * MS }));
    m.liveness('h2', ev({ lastArrivalNs: 7 * MS, atNs: 7 * MS }));
    expect(m.tick(6.4 * MS + CONFIRM)).toEqual([]);
  });

  it('a restart (larger incarnation) while up: down for the OLD incarnation, then up for the new', () => {
    const m = group();
    m.liveness('h2', ev({}));
    const out = m.liveness(
      'h2',
      ev({ incarnation: 9, lastArrivalNs: 8 * MS, lastSentNs: 8 * MS - 5, atNs: 8 * MS }),
    );
    expect(out).toEqual([
      expect.objectContaining({ state: 'down', cause: 'restarted', incarnation: 7, lastHeartbeatNs: 5 * MS }),
      expect.objectContaining({ state: 'up', cause: 'heartbeat', incarnation: 9, lastHeartbeatNs: 8 * MS }),
    ]);
    // A straggler of the old incarnation changes nothing.
    expect(m.liveness('h2', ev({ state: 'suspect', incarnation: 7, atNs: 9 * MS }))).toEqual([]);
  });

  it('a restart seen through a late frame (suspect carrying the new incarnation, then alive): down, up — no suspect', () => {
    const m = group();
    m.liveness('h2', ev({}));
    // The engine reports the silence (with the old arrival) and the new frame in one go.
    const a = m.liveness(
      'h2',
      ev({ state: 'suspect', incarnation: 9, lastArrivalNs: 5 * MS, atNs: 300 * MS }),
    );
    const b = m.liveness('h2', ev({ incarnation: 9, lastArrivalNs: 300 * MS, atNs: 300 * MS }));
    expect([...a, ...b].map((e) => [e.state, e.cause, e.incarnation])).toEqual([
      ['down', 'restarted', 7],
      ['up', 'heartbeat', 9],
    ]);
    expect(m.status('h2')?.suspicions).toBe(0);
  });

  it('a restart after the old incarnation was confirmed down: just up', () => {
    const m = group();
    m.liveness('h2', ev({}));
    m.liveness('h2', ev({ state: 'suspect', atNs: 6 * MS }));
    m.tick(6 * MS + CONFIRM);
    expect(m.liveness('h2', ev({ incarnation: 8, lastArrivalNs: 500 * MS, atNs: 500 * MS }))).toMatchObject([
      { state: 'up', incarnation: 8 },
    ]);
  });

  it('a member never heard from is not suspected by TO, but is down after the confirm time (never-heard)', () => {
    const m = group(true);
    m.liveness('h2', ev({}));
    // The engine watches from setReceiver and reports the silence with no arrival and no incarnation.
    expect(
      m.liveness(
        'h3',
        ev({ laneId: 'L3', state: 'suspect', incarnation: -1, lastArrivalNs: 0, atNs: 1.4 * MS }),
      ),
    ).toEqual([]);
    expect(m.status('h3')?.state).toBe('unknown');
    expect(m.tick(CONFIRM)).toMatchObject([
      { member: 'h3', state: 'down', cause: 'never-heard', incarnation: -1 },
    ]);
  });

  it('a late first frame (suspect without arrival, then alive) is just up', () => {
    const m = group();
    const a = m.liveness('h2', ev({ state: 'suspect', incarnation: 7, lastArrivalNs: 0, atNs: 3 * MS }));
    const b = m.liveness('h2', ev({ atNs: 3 * MS, lastArrivalNs: 3 * MS }));
    expect([...a, ...b].map((e) => e.state)).toEqual(['up']);
  });

  it('TO updates show in later events; events for another lane id are ignored', () => {
    const m = group();
    m.liveness('h2', ev({}));
    m.watch('h2', 'L2', 2.1 * MS, 6 * MS);
    expect(m.status('h2')?.timeoutNs).toBe(2.1 * MS);
    expect(m.liveness('h2', ev({ state: 'suspect', atNs: 8 * MS }))).toMatchObject([{ timeoutNs: 2.1 * MS }]);
    expect(m.liveness('h2', ev({ laneId: 'L9', atNs: 9 * MS }))).toEqual([]);
  });

  it('its lane going away: down (lane-closed) if it was up or suspect; a new lane is watched afresh', () => {
    const m = group();
    m.liveness('h2', ev({}));
    expect(m.unwatch('h2', 7 * MS)).toMatchObject([{ member: 'h2', state: 'down', cause: 'lane-closed' }]);
    expect(m.status('h2')?.timeoutNs).toBe(0);
    expect(m.status('h2')?.laneId).toBeUndefined();
    expect(m.unwatch('h3', 7 * MS)).toEqual([]); // never watched: nothing to retract
    m.watch('h2', 'L5', 1.4 * MS, 8 * MS);
    expect(m.liveness('h2', ev({ laneId: 'L5', lastArrivalNs: 9 * MS, atNs: 9 * MS }))).toMatchObject([
      { state: 'up', incarnation: 7 },
    ]);
  });

  it('refuses a confirm time that is not positive', () => {
    expect(() => new Membership({ group: 'g', self: 'h1', members: ['h1'], confirmNs: 0 })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
  });
});
