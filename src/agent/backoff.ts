// Reconnect delays: capped exponential backoff with "equal jitter" (half fixed, half random), so a
// controller restart is not met by every agent reconnecting in the same millisecond, while no
// agent waits much longer than the cap.
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.initialMs = opts.initialMs ?? 100;
    this.maxMs = opts.maxMs ?? 10_000;
    this.random = opts.random ?? Math.random;
  }

  /** The delay before the next attempt; each call doubles the ceiling up to the cap. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  /** A delay at the cap (jittered like the others): for failures that waiting will not fix soon. */
  atCap(): number {
    return Math.round(this.maxMs / 2 + (this.maxMs / 2) * this.random());
  }

  reset(): void {
    this.attempt = 0;
  }
}
