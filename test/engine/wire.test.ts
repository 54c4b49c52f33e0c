import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PAYLOAD_BYTES, XLANE_HEADER_BUDGET } from '../../src/alloc/wire.js';
import { DROP_REASONS, type DropReason } from '../../src/engine/types.js';
import { FrameDecoder } from '../../src/engine/wire/decode.js';
import { FrameEncoder } from '../../src/engine/wire/encode.js';
import {
  HEADER_BYTES,
  MAX_DATAGRAM_BYTES,
  MIN_DATAGRAM_BYTES,
  PIGGYBACK_BYTES,
  SUB_HEADER_BYTES,
  SubType,
} from '../../src/engine/wire/format.js';

interface FrameInput {
  wireId: number;
  epoch: number;
  seq: number;
  sentNs: number;
  clock: number;
  payload: Uint8Array;
  heartbeat: number | null;
}

const frameArb: fc.Arbitrary<FrameInput> = fc.record({
  wireId: fc.integer({ min: 0, max: 0xffffffff }),
  epoch: fc.integer({ min: 0, max: 0xffffffff }),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  sentNs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  clock: fc.constantFrom(0, 1),
  payload: fc.uint8Array({ maxLength: MAX_PAYLOAD_BYTES }),
  heartbeat: fc.option(fc.integer({ min: 0, max: 0xffffffff })),
});

const encoder = new FrameEncoder(Buffer.alloc(MAX_DATAGRAM_BYTES));

function encode(f: FrameInput): Uint8Array {
  encoder.start(f);
  encoder.append(SubType.DATA, f.payload);
  if (f.heartbeat !== null) {
    const body = Buffer.alloc(8);
    body.writeUInt32BE(f.heartbeat);
    expect(encoder.append(SubType.HEARTBEAT, body)).toBe(true);
  }
  return Uint8Array.from(encoder.buf.subarray(0, encoder.finish()));
}

const VALID = new Set<DropReason | null>([null, ...DROP_REASONS]);

describe('wire format', () => {
  it('fits the header budget the controller charges, so a 1418-byte payload fills a 1500-byte packet', () => {
    expect(HEADER_BYTES + SUB_HEADER_BYTES).toBeLessThanOrEqual(XLANE_HEADER_BUDGET);
    expect(MAX_DATAGRAM_BYTES + 8 + 20).toBe(1500);
    // Room left beside a full message for a piggybacked heartbeat (4-byte sub-header + 8-byte body).
    expect(PIGGYBACK_BYTES).toBeGreaterThanOrEqual(12);
  });

  it('round-trips every valid frame', () => {
    const dec = new FrameDecoder();
    fc.assert(
      fc.property(frameArb, (f) => {
        const bytes = encode(f);
        expect(dec.decode(bytes)).toBeNull();
        const d = dec.frame;
        expect({ wireId: d.wireId, epoch: d.epoch, seq: d.seq, sentNs: d.sentNs, clock: d.clock }).toEqual({
          wireId: f.wireId,
          epoch: f.epoch,
          seq: f.seq,
          sentNs: f.sentNs,
          clock: f.clock,
        });
        expect(bytes.subarray(d.dataOffset, d.dataOffset + d.dataLength)).toEqual(f.payload);
        expect(d.heartbeat).toBe(f.heartbeat ?? -1);
        expect(d.subCount).toBe(f.heartbeat === null ? 1 : 2);
      }),
    );
  });

  it('refuses to build a frame larger than one datagram', () => {
    const enc = new FrameEncoder(Buffer.alloc(MAX_DATAGRAM_BYTES));
    enc.start({ wireId: 1, epoch: 1, seq: 0, sentNs: 0, clock: 0 });
    expect(enc.reserve(SubType.DATA, MAX_DATAGRAM_BYTES - MIN_DATAGRAM_BYTES + 1)).toBe(-1);
    expect(enc.reserve(SubType.DATA, MAX_DATAGRAM_BYTES - MIN_DATAGRAM_BYTES)).toBe(MIN_DATAGRAM_BYTES);
    expect(enc.finish()).toBe(MAX_DATAGRAM_BYTES);
  });

  it('names the reason for each kind of broken datagram', () => {
    const dec = new FrameDecoder();
    const good = encode({
      wireId: 3,
      epoch: 1,
      seq: 1,
      sentNs: 5,
      clock: 0,
      payload: Buffer.from('hi'),
      heartbeat: 9,
    });
    const mutate = (at: number, value: number) => {
      const b = Uint8Array.from(good);
      b[at] = value;
      return b;
    };
    expect(dec.decode(good.subarray(0, MIN_DATAGRAM_BYTES - 1))).toBe('short');
    expect(dec.decode(new Uint8Array(MAX_DATAGRAM_BYTES + 1))).toBe('oversize');
    expect(dec.decode(mutate(0, 0x41))).toBe('version'); // magic
    expect(dec.decode(mutate(2, 2))).toBe('version'); // version 2
    expect(dec.decode(mutate(3, 0x80))).toBe('malformed'); // reserved flag bit
    expect(dec.decode(mutate(3, 2))).toBe('malformed'); // unknown clock kind
    expect(dec.decode(mutate(24, 0))).toBe('malformed'); // no sub-messages
    expect(dec.decode(mutate(24, 3))).toBe('malformed'); // count says more than there is
    expect(dec.decode(mutate(24, 1))).toBe('malformed'); // count says less: trailing bytes
    expect(dec.decode(mutate(26, 1))).toBe('malformed'); // reserved header byte
    expect(dec.decode(mutate(HEADER_BYTES, 0))).toBe('malformed'); // sub-message type 0
    expect(dec.decode(mutate(HEADER_BYTES + 3, 200))).toBe('malformed'); // body past the end
    expect(dec.decode(Uint8Array.from([...good, 0]))).toBe('malformed'); // trailing byte
    // A sub-message type this version does not know is skipped, not fatal.
    const unknown = mutate(HEADER_BYTES + SUB_HEADER_BYTES + 2, 0x7f);
    expect(dec.decode(unknown)).toBeNull();
    expect(dec.frame.unknownSubs).toBe(1);
    expect(dec.frame.heartbeat).toBe(-1);
  });

  it('never throws on random bytes and answers with exactly one known reason', () => {
    const dec = new FrameDecoder();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_DATAGRAM_BYTES + 64 }), (bytes) => {
        expect(VALID.has(dec.decode(bytes))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutated, truncated or extended valid frames', () => {
    const dec = new FrameDecoder();
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
      fc.record({
        kind: fc.constant('extend' as const),
        at: fc.nat({ max: 80 }),
        value: fc.integer({ min: 0, max: 255 }),
      }),
    );
    fc.assert(
      fc.property(frameArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (f, ms) => {
        let bytes = encode(f);
        for (const m of ms) {
          if (m.kind === 'flip' && bytes.length > 0) bytes[m.at % bytes.length] = m.value;
          else if (m.kind === 'truncate') bytes = bytes.subarray(0, m.at % (bytes.length + 1));
          else if (m.kind === 'extend')
            bytes = Uint8Array.from([...bytes, ...new Array(m.at + 1).fill(m.value)]);
        }
        const reason = dec.decode(bytes);
        expect(VALID.has(reason)).toBe(true);
        if (reason === null) {
          // Whatever was accepted is self-consistent: the DATA body lies inside the datagram.
          expect(dec.frame.dataOffset + dec.frame.dataLength).toBeLessThanOrEqual(bytes.length);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
