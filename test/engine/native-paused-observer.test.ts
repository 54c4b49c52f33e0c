// An observer that was itself off the CPU must not blame its members for it. Heartbeats that
// reached the host while the observer's process was paused wait in its socket; the native engine
// judges them by their kernel receive stamps, and reads the socket before any suspicion, so a
// paused observer (SIGSTOP; the same as a thread descheduled on a loaded host) resumes without a
// false suspicion — and still suspects a sender that really stopped during the pause.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { monotonicNs } from '../../src/engine/clock.js';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import type { LivenessEvent } from '../../src/engine/types.js';
import { freeUdpPort, heartbeatSender, waitFor } from './helpers.js';
import { nativeEngine, skipReason } from './native-helpers.js';

const LO = '127.0.0.1';
const fixture = fileURLToPath(new URL('./fixtures/liveness-observer.ts', import.meta.url));
// Far above a loaded machine's scheduling hiccups; the pause below is five times as long.
const TIMEOUT_NS = 200_000_000;
const PAUSE_MS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Observer {
  child: ChildProcessWithoutNullStreams;
  events: LivenessEvent[];
}

function observe(port: number, receive: string): Promise<Observer> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fixture, String(port), String(TIMEOUT_NS), receive],
    {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    },
  );
  const events: LivenessEvent[] = [];
  let buffered = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`observer exited (${code}): ${err}`)));
    child.stdout.on('data', (d) => {
      buffered += d;
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'ready') resolve({ child, events });
        else events.push(JSON.parse(line) as LivenessEvent);
        nl = buffered.indexOf('\n');
      }
    });
  });
}

describe.skipIf(skipReason !== '')(`a native observer paused by SIGSTOP ${skipReason}`, () => {
  const children: ChildProcessWithoutNullStreams[] = [];
  const engines: NativeEngine[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGCONT');
        c.kill('SIGKILL');
      }
    }
    await Promise.all(engines.splice(0).map((e) => e.close()));
  });

  async function pause(o: Observer, during?: () => void): Promise<{ resumedNs: number }> {
    o.child.kill('SIGSTOP');
    during?.();
    await sleep(PAUSE_MS);
    const resumedNs = monotonicNs();
    o.child.kill('SIGCONT');
    return { resumedNs };
  }

  for (const receive of ['blocking', 'busy-poll']) {
    it(`${receive}: no suspicion of a sender that went on; the one that stopped is suspected`, async () => {
      const port = await freeUdpPort();
      const o = await observe(port, receive);
      children.push(o.child);
      const sender = nativeEngine({ receive: 'blocking' });
      engines.push(sender);
      await sender.start({ bindAddress: LO, port: await freeUdpPort() });
      sender.setSender(heartbeatSender(port, { laneId: 'L1', wireId: 1, periodNs: 5_000_000, dscp: 46 }));
      await waitFor(() => o.events.some((e) => e.state === 'alive'), 'the sender alive');

      // The sender goes on through the pause: ~200 heartbeats wait in the paused observer's socket.
      await pause(o);
      await sleep(3 * (TIMEOUT_NS / 1e6));
      expect(o.events.filter((e) => e.state === 'suspect')).toEqual([]);

      // The sender stops during the pause: suspected once the observer runs again, from the last
      // heartbeat that reached it, not from when it got around to reading it.
      let stoppedNs = 0;
      const { resumedNs } = await pause(o, () => {
        sender.removeSender('L1');
        stoppedNs = monotonicNs();
      });
      await waitFor(() => o.events.some((e) => e.state === 'suspect'), 'the suspicion');
      await sleep(2 * (TIMEOUT_NS / 1e6));
      const suspects = o.events.filter((e) => e.state === 'suspect');
      expect(suspects).toHaveLength(1);
      const s = suspects[0]!;
      expect(s.lastArrivalNs).toBeLessThanOrEqual(stoppedNs);
      // The last heartbeat reached the host during the pause, long before it was read.
      expect(s.lastArrivalNs).toBeLessThan(resumedNs - TIMEOUT_NS);
      expect(s.atNs).toBeGreaterThanOrEqual(resumedNs);
      expect(s.atNs - s.lastArrivalNs).toBeGreaterThanOrEqual(TIMEOUT_NS);
    }, 30_000);
  }
});
