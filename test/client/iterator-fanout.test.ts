import { describe, expect, it } from 'vitest';
import { IteratorFanout } from '../../src/client/iterator-fanout.js';

describe('IteratorFanout', () => {
  it('gives every iterator each value, to a waiting reader at once, and counts what a full queue drops', async () => {
    const f = new IteratorFanout<number>(2);
    const a = f.iterator();
    const b = f.iterator();
    const waiting = a.next();
    let made = 0;
    f.publish(() => ++made);
    expect(await waiting).toEqual({ value: 1, done: false });
    // a took 1 (waiting), b queued 2; then each queues one more and is full (2 items): the last
    // two publishes drop three values in all.
    f.publish(() => ++made);
    f.publish(() => ++made);
    f.publish(() => ++made);
    expect(await a.next()).toEqual({ value: 3, done: false });
    expect(await a.next()).toEqual({ value: 5, done: false });
    expect(await b.next()).toEqual({ value: 2, done: false });
    expect(await b.next()).toEqual({ value: 4, done: false });
    expect(f.dropped).toBe(3);
    expect(made).toBe(5); // one value per iterator that took it, none for the dropped ones
  });

  it('is active only while an iterator is open', async () => {
    const f = new IteratorFanout<number>(2);
    expect(f.active).toBe(false);
    const a = f.iterator();
    expect(f.active).toBe(true);
    await a.return!();
    expect(f.active).toBe(false);
  });

  it('finishes readers at the end: queued values first, then done; or the error; or nothing with discard', async () => {
    const f = new IteratorFanout<string>(10);
    const a = f.iterator();
    const waitingB = f.iterator();
    const pending = waitingB.next();
    f.publish(() => 'x');
    f.end();
    expect(await pending).toEqual({ value: 'x', done: false });
    expect(await a.next()).toEqual({ value: 'x', done: false });
    expect(await a.next()).toEqual({ value: undefined, done: true });
    expect(await f.iterator().next()).toEqual({ value: undefined, done: true });

    const g = new IteratorFanout<string>(10);
    const c = g.iterator();
    const d = g.iterator();
    const dWait = d.next();
    g.publish(() => 'y'); // reaches d's waiting read; c queues it
    g.end(new Error('gone'), true);
    expect(await dWait).toEqual({ value: 'y', done: false });
    await expect(c.next()).rejects.toThrow('gone');
  });

  it('return() ends one iterator only', async () => {
    const f = new IteratorFanout<number>(10);
    const a = f.iterator();
    const b = f.iterator();
    const pending = a.next();
    expect(await a.return!()).toEqual({ value: undefined, done: true });
    expect(await pending).toEqual({ value: undefined, done: true });
    f.publish(() => 7);
    expect(await b.next()).toEqual({ value: 7, done: false });
    expect(await a.next()).toEqual({ value: undefined, done: true });
  });
});
