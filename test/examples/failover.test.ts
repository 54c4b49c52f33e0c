// examples/failover.ts, run as its header says (embedded mode with X-FD in each process; primary h1
// on 127.0.0.1, standby h2 on 127.0.0.2) against a real controller: while the primary lives the
// standby follows its state and does not take over; once the primary is gone (SIGKILL by PID, or
// Ctrl-C) X-FD declares it down and the standby takes over from the last state it received, serves
// its ticks and stops by itself.
//
// Nothing here is timed: detection takes about TO + the confirm time, but the tests wait for what
// the processes say. On a loaded machine the js engine reports many brief suspicions of a live
// member (docs/fd.md); the standby acts only on `down`, which needs a suspicion unbroken for the
// confirm time, generous here (2 s).
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerClient } from '../../src/client/controller-client.js';
import { type Example, exampleHarness, PEERS, WAIT_MS } from './harness.js';

const h = exampleHarness();
afterEach(() => h.cleanup());

const TEST_MS = 5 * WAIT_MS;
const SERVE_TICKS = 5;
const TAKEOVER =
  /primary h1 is down \((\S+), incarnation (\d+)\): no heartbeat for \S+ ms, TO \S+ µs; taking over at state (\d+)/;

async function primaryAndStandby() {
  const c = await h.controller();
  const common = ['--controller', c.url, '--peers', PEERS, '--fd-confirm-ms', '2000'];
  const primary = h.run('failover.ts', ['primary', ...common, '--duration-s', '600']);
  await primary.waitFor(/primary h1: serving$/);
  const standby = h.run('failover.ts', [
    'standby',
    ...common,
    '--duration-s',
    '600',
    '--serve-ticks',
    String(SERVE_TICKS),
  ]);
  const up = await standby.waitFor(/primary h1 up \(heartbeat, incarnation (\d+),/);
  await standby.waitFor(/replicating from lane L\d+/);
  await primary.waitFor(/replicating to h2 on lane L\d+/);
  // Replication works: the standby reports a state the primary sent (printed once a second).
  const replicated = Number((await standby.waitFor(/replica at state ([1-9]\d*)/))[1]);
  return { c, primary, standby, incarnation: up[1]!, replicated };
}

/** The standby's takeover and the ticks it serves after, ending by itself. */
async function expectTakeover(standby: Example, incarnation: string, replicated: number) {
  const [, cause, downIncarnation, from] = await standby.waitFor(TAKEOVER);
  // Suspected without a break for the confirm time: a silent primary, not a closed lane.
  expect(cause).toBe('confirmed');
  expect(downIncarnation).toBe(incarnation);
  expect(Number(from)).toBeGreaterThanOrEqual(replicated);
  expect(await standby.exited, standby.output()).toEqual({ code: 0, signal: null });
  const served = standby.lines
    .flatMap((l) => /serving as primary: state (\d+)/.exec(l)?.[1] ?? [])
    .map(Number);
  expect(served).toEqual(Array.from({ length: SERVE_TICKS }, (_, i) => Number(from) + 1 + i));
  await standby.waitFor(new RegExp(`served ${SERVE_TICKS} ticks as primary: stopping`));
  await standby.waitFor(/client closed/);
}

describe('examples/failover.ts', () => {
  it('the standby takes over from the last replicated state once X-FD declares the SIGKILLed primary down', {
    timeout: TEST_MS,
  }, async () => {
    const { primary, standby, incarnation, replicated } = await primaryAndStandby();
    // Both alive all along: no takeover yet.
    expect(
      standby.lines.filter((l) => /is down|taking over/.test(l)),
      standby.output(),
    ).toEqual([]);

    process.kill(primary.pid, 'SIGKILL');
    expect(await primary.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await expectTakeover(standby, incarnation, replicated);
  });

  it('a primary stopped with Ctrl-C releases its replication lane, and the standby takes over', {
    timeout: TEST_MS,
  }, async () => {
    const { c, primary, standby, incarnation, replicated } = await primaryAndStandby();
    expect(
      standby.lines.filter((l) => /is down|taking over/.test(l)),
      standby.output(),
    ).toEqual([]);

    process.kill(primary.pid, 'SIGINT');
    expect(await primary.exited, primary.output()).toEqual({ code: 0, signal: null });
    await primary.waitFor(/SIGINT: stopping/);
    await primary.waitFor(/client closed/);
    await expectTakeover(standby, incarnation, replicated);
    // The application's lane is released; X-FD's heartbeat lanes stay admitted on purpose, so
    // that the others detect a member that stopped (docs/fd.md).
    const names = (await new ControllerClient({ url: c.url }).lanes()).map((l) => l.name).sort();
    expect(names).toEqual(['xfd.failover.h1', 'xfd.failover.h2']);
  });
});
