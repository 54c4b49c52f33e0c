import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SEQ_WINDOW, SeqWindow } from '../../src/engine/receive/seq-window.js';
import { seqDiff } from '../../src/engine/wire/serial.js';

/** Reference model: unbounded sets over sequence numbers as plain integers (no wrap). */
function model(seqs: number[]) {
  const seen = new Set<number>();
  let top = -1;
  let gaps = 0;
  let reordered = 0;
  const verdicts: string[] = [];
  for (const s of seqs) {
    if (top < 0) {
      top = s;
      seen.add(s);
      verdicts.push('inOrder');
    } else if (s > top) {
      gaps += s - top - 1;
      top = s;
      seen.add(s);
      verdicts.push('inOrder');
    } else if (top - s >= SEQ_WINDOW) verdicts.push('old');
    else if (seen.has(s)) verdicts.push('duplicate');
    else {
      seen.add(s);
      gaps--;
      reordered++;
      verdicts.push('reordered');
    }
  }
  return { verdicts, gaps, reordered };
}

describe('sequence window', () => {
  it('compares across the u32 wrap (RFC 1982)', () => {
    expect(seqDiff(0, 0xffffffff)).toBe(1);
    expect(seqDiff(0xffffffff, 0)).toBe(-1);
    expect(seqDiff(5, 3)).toBe(2);
  });

  it('agrees with a set-based model on any arrival order, including across the wrap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.integer({ min: 0, max: 150 }), { minLength: 1, maxLength: 300 }),
        (base, offsets) => {
          const w = new SeqWindow();
          const verdicts = offsets.map((o) => w.accept((base + o) >>> 0));
          const m = model(offsets);
          expect(verdicts).toEqual(m.verdicts);
          expect(w.openGaps).toBe(m.gaps);
          expect(w.reordered).toBe(m.reordered);
        },
      ),
    );
  });
});
