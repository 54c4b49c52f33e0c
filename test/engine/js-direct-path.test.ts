// The js engine's direct path on its own, over a real UDP socket on loopback: when it sends, the
// frame carries the shared sequence number and release time; when it must not (boundary ahead, the
// worker holding the lane, the slot given to another lane, a heartbeat lane), it leaves the message
// to the ring and changes nothing.
import dgram from 'node:dgram';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { monotonicNs } from '../../src/engine/clock.js';
import { DirectPath } from '../../src/engine/js/direct-path.js';
import { S_SENT, STAT_WORDS } from '../../src/engine/js/shared.js';
import { createTxBuffers, HOLDER_WORKER, TxState } from '../../src/engine/js/tx-state.js';
import { NO_PHASE } from '../../src/engine/schedule.js';
import type { SenderSpec } from '../../src/engine/types.js';
import { FrameDecoder } from '../../src/engine/wire/decode.js';

const SLOT = 3;
const GEN = 7;

function spec(port: number, over: Partial<SenderSpec> = {}): SenderSpec {
  return {
    laneId: 'L9',
    wireId: 9,
    epoch: 4,
    maxPayloadBytes: 64,
    minPeriodNs: 5_000_000,
    policy: 'reject',
    dscp: 46,
    priority: 6,
    srcPort: 0,
    destinations: [{ host: 'b', address: '127.0.0.1', port }],
    ...over,
  };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('js engine direct path', () => {
  let rx: dgram.Socket;
  let port = 0;
  let frames: Buffer[];
  let path: DirectPath | undefined;
  const tx = new TxState(createTxBuffers(8));
  const stats = new Float64Array(8 * STAT_WORDS);

  beforeEach(async () => {
    frames = [];
    rx = dgram.createSocket('udp4');
    rx.on('message', (m) => frames.push(Buffer.from(m)));
    await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
    port = rx.address().port;
    tx.claim(SLOT, GEN);
    stats.fill(0);
  });

  afterEach(() => {
    path?.close();
    rx.close();
  });

  async function ready(p: DirectPath): Promise<void> {
    // Connected sockets come a few event-loop turns after construction.
    await until(() => {
      if (p.trySend(tx, SLOT, GEN, stats, Buffer.from('probe'))) return true;
      return false;
    });
    await until(() => frames.length === 1);
    frames.length = 0;
    tx.forgetBoundary(SLOT);
  }

  it('sends at once when the boundary has passed, with the shared sequence and release time', async () => {
    path = new DirectPath(spec(port), '127.0.0.1');
    await ready(path);
    const seqBefore = tx.seq(SLOT);
    const before = monotonicNs();
    expect(path.trySend(tx, SLOT, GEN, stats, Buffer.from('hello'))).toBe(true);
    const after = monotonicNs();
    await until(() => frames.length === 1);
    const dec = new FrameDecoder();
    expect(dec.decode(frames[0]!)).toBeNull();
    expect(dec.frame.wireId).toBe(9);
    expect(dec.frame.epoch).toBe(4);
    expect(dec.frame.seq).toBe(seqBefore);
    expect(dec.frame.sentNs).toBeGreaterThanOrEqual(before);
    expect(dec.frame.sentNs).toBeLessThanOrEqual(after);
    expect(
      frames[0]!.subarray(dec.frame.dataOffset, dec.frame.dataOffset + dec.frame.dataLength).toString(),
    ).toBe('hello');
    expect(tx.seq(SLOT)).toBe(seqBefore + 1);
    // Released with its boundary long past: the next boundary counts from this release.
    expect(tx.nextBoundary(SLOT, spec(port).minPeriodNs, NO_PHASE, 0)).toBe(
      dec.frame.sentNs + spec(port).minPeriodNs,
    );
    expect(stats[SLOT * STAT_WORDS + S_SENT]).toBe(2); // the probe and this one
  });

  it('leaves the message to the ring while the boundary is ahead, the worker holds the lane, or the slot changed hands', async () => {
    path = new DirectPath(spec(port), '127.0.0.1');
    await ready(path);
    expect(path.trySend(tx, SLOT, GEN, stats, Buffer.from('a'))).toBe(true);
    const seq = tx.seq(SLOT);
    // π_min is 5 ms: the next boundary is ahead.
    expect(path.trySend(tx, SLOT, GEN, stats, Buffer.from('b'))).toBe(false);
    tx.forgetBoundary(SLOT);
    expect(tx.tryLock(SLOT, HOLDER_WORKER)).toBe(true);
    expect(path.trySend(tx, SLOT, GEN, stats, Buffer.from('c'))).toBe(false);
    tx.unlock(SLOT);
    expect(path.trySend(tx, SLOT, GEN + 1, stats, Buffer.from('d'))).toBe(false);
    expect(tx.seq(SLOT)).toBe(seq);
    await new Promise((r) => setTimeout(r, 20));
    expect(frames.length).toBe(1);
  });

  it('never sends a heartbeat lane (the worker times those) and follows a new destination after update()', async () => {
    path = new DirectPath(spec(port, { heartbeat: { incarnation: 1 } }), '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
    expect(path.trySend(tx, SLOT, GEN, stats, Buffer.from('x'))).toBe(false);
    const other = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    other.on('message', (m) => got.push(m));
    await new Promise<void>((r) => other.bind(0, '127.0.0.1', () => r()));
    try {
      path.update(spec(other.address().port));
      await until(() => path!.trySend(tx, SLOT, GEN, stats, Buffer.from('y')));
      await until(() => got.length === 1);
      expect(frames.length).toBe(0);
    } finally {
      other.close();
    }
  });
});
