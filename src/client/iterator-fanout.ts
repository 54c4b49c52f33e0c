// Async iteration for the client's event sources (a lane's messages, a failure detector's events):
// every iterator gets its own bounded queue, a reader that is waiting gets the value at once, and
// the source's end finishes every iterator (or rejects it with the error that ended the source).

type Waiter<T> = { resolve(r: IteratorResult<T>): void; reject(e: Error): void };
type Queue<T> = { items: T[]; waiters: Waiter<T>[] };

const DONE = { value: undefined, done: true } as const;

export class IteratorFanout<T> {
  private readonly queues = new Set<Queue<T>>();
  private ended = false;
  private endErr: Error | undefined;
  /** Values an iterator could not hold (its reader was too slow): newer ones are dropped. */
  dropped = 0;

  constructor(private readonly highWaterMark: number) {}

  /** Whether any iterator is open: a source can skip building what publish() would take. */
  get active(): boolean {
    return this.queues.size > 0;
  }

  iterator(): AsyncIterator<T> {
    const q: Queue<T> = { items: [], waiters: [] };
    if (!this.ended) this.queues.add(q);
    return {
      next: () => {
        const item = q.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.ended || !this.queues.has(q))
          return this.endErr ? Promise.reject(this.endErr) : Promise.resolve(DONE);
        return new Promise((resolve, reject) => q.waiters.push({ resolve, reject }));
      },
      return: () => {
        this.queues.delete(q);
        for (const w of q.waiters.splice(0)) w.resolve(DONE);
        return Promise.resolve(DONE);
      },
    };
  }

  /** Hands a value to every iterator; `make` is called once per iterator that takes one (each
   * gets its own copy when `make` copies). */
  publish(make: () => T): void {
    for (const q of this.queues) {
      const w = q.waiters.shift();
      if (w) w.resolve({ value: make(), done: false });
      else if (q.items.length < this.highWaterMark) q.items.push(make());
      else this.dropped++;
    }
  }

  /** The source is over: waiting readers finish (or reject with `err`); what is queued is still
   * read first unless `discard`. */
  end(err?: Error, discard = false): void {
    if (this.ended) return;
    this.ended = true;
    this.endErr = err;
    for (const q of this.queues) {
      if (discard) q.items.length = 0;
      for (const w of q.waiters.splice(0)) {
        if (err) w.reject(err);
        else w.resolve(DONE);
      }
    }
    this.queues.clear();
  }
}
