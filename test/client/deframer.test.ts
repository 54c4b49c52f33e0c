// Framing is independent of how the stream is cut into chunks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deframer } from '../../src/agent/local-api/deframer.js';
import { encodeDeliveryFrame, encodeSendFrame } from '../../src/agent/local-api/frames.js';

describe('Deframer', () => {
  it('yields the same frames however the byte stream is split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (bodies, cuts) => {
          const stream = Buffer.concat(
            bodies.map((b) => {
              const f = Buffer.alloc(4 + b.length);
              f.writeUInt32BE(b.length, 0);
              f.set(b, 4);
              return f;
            }),
          );
          const at = [...new Set(cuts.map((c) => c % stream.length))].sort((a, b) => a - b);
          const d = new Deframer(300);
          const out: Buffer[] = [];
          let prev = 0;
          for (const c of [...at, stream.length]) {
            d.push(Buffer.from(stream.subarray(prev, c)), (r) => {
              if (r.kind === 'frame') out.push(Buffer.from(r.body));
            });
            prev = c;
          }
          expect(out).toEqual(bodies.map((b) => Buffer.from(b)));
          expect(d.pending).toBe(0);
        },
      ),
    );
  });

  it('reports an oversize frame once and ignores the rest of the stream', () => {
    const d = new Deframer(16);
    const seen: string[] = [];
    const big = Buffer.alloc(4);
    big.writeUInt32BE(17, 0);
    d.push(
      Buffer.concat([encodeSendFrame(1, 2, Buffer.from('ok')), big, encodeSendFrame(3, 4, Buffer.from('x'))]),
      (r) => seen.push(r.kind === 'oversize' ? `oversize ${r.announced}` : r.kind),
    );
    d.push(encodeSendFrame(5, 6, Buffer.from('y')), (r) => seen.push(r.kind));
    expect(seen).toEqual(['frame', 'oversize 17']);
  });

  it('round-trips delivery fields bit for bit, including non-integer and large values', () => {
    const f = encodeDeliveryFrame(7, 2 ** 40 + 3, 1.5e18, Number.MAX_SAFE_INTEGER, Buffer.from('p'));
    const body = f.subarray(4);
    expect([
      body[0],
      body.readUInt32BE(1),
      body.readDoubleBE(5),
      body.readDoubleBE(13),
      body.readDoubleBE(21),
    ]).toEqual([0x11, 7, 2 ** 40 + 3, 1.5e18, Number.MAX_SAFE_INTEGER]);
    expect(body.subarray(29).toString()).toBe('p');
  });
});
