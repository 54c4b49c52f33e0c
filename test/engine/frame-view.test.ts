import { describe, expect, it } from 'vitest';
import { FrameView } from '../../src/engine/js/frame-view.js';

describe('FrameView', () => {
  it('gives the first n bytes of the frame, the same view while n stays, a new one when it changes', () => {
    const frame = Buffer.from([1, 2, 3, 4, 5, 6]);
    const v = new FrameView(frame);
    const a = v.of(4);
    expect([...a]).toEqual([1, 2, 3, 4]);
    expect(v.of(4)).toBe(a);
    frame[0] = 9; // a view, not a copy: the next frame's bytes show through
    expect(a[0]).toBe(9);
    const b = v.of(2);
    expect(b).not.toBe(a);
    expect([...b]).toEqual([9, 2]);
  });
});
