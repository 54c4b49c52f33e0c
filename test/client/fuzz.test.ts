// Bad bytes never bring the local API down: random streams and frames with random bodies of every
// type get only well-formed error replies, and the server keeps answering.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deframer } from '../../src/agent/local-api/deframer.js';
import { FrameType, LOCAL_API_VERSION, parseJsonBody } from '../../src/agent/local-api/frames.js';
import { LocalSession } from '../../src/agent/local-api/session.js';
import { ErrorCodes } from '../../src/errors.js';
import { FakeBackend } from './fake-backend.js';
import { type Harness, startHarness } from './helpers.js';
import { RawClient } from './raw-client.js';

const frameOf = (body: Uint8Array) => {
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
};

const jsonish = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record({
      id: fc.oneof(fc.integer(), fc.double(), fc.string()),
      op: fc.constantFrom('hello', 'open', 'listen', 'close', 'counters', 'nope'),
      version: fc.oneof(fc.constant(LOCAL_API_VERSION), fc.integer()),
      lane: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.string(), fc.constant(null)),
      request: fc.oneof(fc.constant(null), fc.jsonValue(), fc.record({ receivers: fc.array(fc.string()) })),
    })
    .map((v) => JSON.stringify(v)),
  fc.string(),
);

const frame = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map(frameOf),
  jsonish.map((s) => frameOf(Buffer.concat([Buffer.from([FrameType.Request]), Buffer.from(s)]))),
  fc
    .tuple(
      fc.constantFrom(FrameType.Send, FrameType.Delivery, FrameType.Reply, FrameType.Event),
      fc.uint8Array({ maxLength: 40 }),
    )
    .map(([t, b]) => frameOf(Buffer.concat([Buffer.from([t]), b]))),
);

/** A stream: frames, with random bytes mixed in, cut at random places. */
const stream = fc
  .tuple(
    fc.array(fc.oneof(frame, fc.uint8Array({ maxLength: 16 })), { maxLength: 12 }),
    fc.array(fc.nat(), { maxLength: 8 }),
  )
  .map(([parts, cuts]) => {
    const all = Buffer.concat(parts);
    const at = [...new Set(cuts.map((c) => (all.length ? c % all.length : 0)))].sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let prev = 0;
    for (const c of [...at, all.length]) {
      if (c > prev) chunks.push(all.subarray(prev, c));
      prev = c;
    }
    return chunks;
  });

describe('local API fuzz', () => {
  it('a session answers any byte stream with well-formed replies only, never throwing', async () => {
    await fc.assert(
      fc.asyncProperty(stream, async (chunks) => {
        const out: Buffer[] = [];
        const backend = new FakeBackend();
        const session = new LocalSession(
          backend,
          { write: (f) => out.push(f), backlog: () => 0, end: () => {} },
          { maxFrameBytes: 256 },
        );
        for (const c of chunks) session.data(c);
        await new Promise((r) => setImmediate(r));
        const d = new Deframer(1 << 20);
        for (const buf of out) {
          d.push(buf, (r) => {
            expect(r.kind).toBe('frame');
            if (r.kind !== 'frame') return;
            expect([FrameType.Reply, FrameType.Event]).toContain(r.body[0]);
            const json = parseJsonBody(r.body) as { ok?: boolean; error?: { code: string } };
            expect(json).toBeDefined();
            if (json.ok === false) expect(Object.keys(ErrorCodes)).toContain(json.error?.code);
          });
        }
        expect(d.pending).toBe(0);
        await session.closed();
        // Lanes the fuzz managed to open are released with the session.
        expect(backend.lanes.size).toBe(0);
      }),
      { numRuns: 400 },
    );
  });

  describe('over the socket', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ maxFrameBytes: 512 });
    });
    afterAll(async () => {
      await h.cleanup();
    });

    it('survives random streams from many connections', async () => {
      await fc.assert(
        fc.asyncProperty(stream, async (chunks) => {
          const c = await RawClient.open(h.socketPath);
          for (const ch of chunks) c.write(ch);
          c.sock.end();
          await c.untilClosed();
          const probe = await RawClient.open(h.socketPath);
          expect((await probe.request('hello', { version: LOCAL_API_VERSION })).ok).toBe(true);
          await probe.end();
        }),
        { numRuns: 60 },
      );
    });
  });
});
