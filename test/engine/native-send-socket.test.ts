import { afterEach, describe, expect, it } from 'vitest';
import type { EngineHandle } from '../../src/engine/native/addon.js';
import { freeUdpPort, waitFor } from './helpers.js';
import { rawEngines, skipReason } from './native-helpers.js';

const LO = '127.0.0.1';
const PERIOD_NS = 2_000_000;

describe.skipIf(skipReason !== '')(`native engine send sockets (raw addon) ${skipReason}`, () => {
  const raw = rawEngines();
  const { addon, engine } = raw;
  afterEach(() => raw.cleanup());

  /** A socket standing in for a receiver: how many frames it got. */
  async function peer() {
    const p = { port: 0, frames: 0 };
    p.port = await raw.peer(() => p.frames++);
    return p;
  }

  /** A heartbeat lane (a frame every PERIOD_NS) in slot 0, generation 1, to these ports. */
  function heartbeats(h: EngineHandle, fd: number, ports: number[]) {
    addon.setSender(
      h,
      0,
      1,
      fd,
      1,
      1,
      0,
      PERIOD_NS,
      ports.flatMap((p) => [LO, p]),
      1,
      0,
      0,
      -1,
    );
  }

  it('to a port nobody listens on: every frame still leaves, no send error counted', async () => {
    const { h, block } = await engine();
    const L = addon.layout;
    // Each frame draws an ICMP port unreachable, which a connected socket reports on the next send:
    // that send must go out all the same (sent again), or every other frame would be lost.
    heartbeats(h, addon.openSender(LO, 0, 0, 0), [await freeUdpPort()]);
    await waitFor(() => block.txStat(0, L.TS_SENT) >= 20, '20 frames');
    expect(block.txStat(0, L.TS_SEND_ERRORS)).toBe(0);
  });

  it('grant changes from one destination to two and back: each peer gets frames exactly while it is one', async () => {
    const { h } = await engine();
    const [a, b] = [await peer(), await peer()];
    const fd = addon.openSender(LO, 0, 0, 0);
    const settle = () => new Promise((r) => setTimeout(r, 5 * (PERIOD_NS / 1e6)));
    const frames = async (ports: number[]) => {
      heartbeats(h, fd, ports);
      await settle(); // past the change
      const before = [a.frames, b.frames];
      await settle();
      return [a.frames - before[0]!, b.frames - before[1]!];
    };
    // One destination (connected), two (disconnected, addressed), one again, then the other one.
    const [one, two, again, other] = [
      await frames([a.port]),
      await frames([a.port, b.port]),
      await frames([a.port]),
      await frames([b.port]),
    ];
    expect(one[0]).toBeGreaterThan(0);
    expect(one[1]).toBe(0);
    expect(two[0]).toBeGreaterThan(0);
    expect(two[1]).toBeGreaterThan(0);
    expect(again[0]).toBeGreaterThan(0);
    expect(again[1]).toBe(0);
    expect(other[0]).toBe(0);
    expect(other[1]).toBeGreaterThan(0);
  });
});
