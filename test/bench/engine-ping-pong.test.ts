// The ping-pong driver over an in-process fake transport (the real one runs in engine-run.test.ts):
// warm-up round trips are not recorded, a lost reply is re-sent and counted, late replies to a
// given-up ping are ignored, and the deadline always ends a run.
import { describe, expect, it } from 'vitest';
import { PingPong, pingId } from '../../src/bench/engine-ping-pong.js';

/** Echoes each ping on the next turn of the event loop, except the ones `drop` says to lose. */
function echoTransport(drop: (n: number) => boolean = () => false) {
  let sent = 0;
  const pp: PingPong = new PingPong(Buffer.alloc(64), (p) => {
    const n = sent++;
    const id = pingId(p);
    if (!drop(n)) setImmediate(() => pp.reply(id));
  });
  return { pp, sent: () => sent };
}

describe('PingPong', () => {
  it('records `count` round trips after the warm-up ones', async () => {
    const { pp, sent } = echoTransport();
    pp.reserve(100);
    await pp.run(50, 10, Date.now() + 10_000);
    expect(pp.recorded).toBe(50);
    expect(sent()).toBe(60);
    expect(pp.samples.subarray(0, 50).every((v) => v > 0)).toBe(true);
    await pp.run(30, 0, Date.now() + 10_000); // a later block adds to the same samples
    expect(pp.recorded).toBe(80);
    expect(pp.lost).toBe(0);
  });

  it('never records more than it reserved', async () => {
    const { pp } = echoTransport();
    pp.reserve(5);
    await pp.run(50, 0, Date.now() + 10_000);
    expect(pp.recorded).toBe(5);
  });

  it('re-sends a ping whose reply is lost, and counts it', async () => {
    const { pp, sent } = echoTransport((n) => n === 3);
    pp.reserve(10);
    await pp.run(10, 0, Date.now() + 10_000);
    expect(pp.lost).toBe(1);
    expect(pp.recorded).toBe(10);
    expect(sent()).toBe(11);
  });

  it('ignores a reply that does not carry the outstanding id', async () => {
    let last = 0;
    const pp = new PingPong(Buffer.alloc(64), (p) => {
      last = pingId(p);
    });
    pp.reserve(1);
    const done = pp.run(1, 0, Date.now() + 10_000);
    pp.reply(last + 1);
    expect(pp.recorded).toBe(0);
    pp.reply(last);
    await done;
    expect(pp.recorded).toBe(1);
  });

  it('stops at the deadline when no reply ever comes', async () => {
    const { pp } = echoTransport(() => true);
    pp.reserve(10);
    await pp.run(10, 0, Date.now() + 100);
    expect(pp.recorded).toBe(0);
  });

  it('rejects when the transport refuses to send', async () => {
    const pp = new PingPong(Buffer.alloc(64), () => {
      throw new Error('refused');
    });
    pp.reserve(1);
    await expect(pp.run(1, 0, Date.now() + 10_000)).rejects.toThrow('refused');
  });
});
