// The plain detector: suspect once no heartbeat came for a fixed timeout. With the timeout taken
// from the grant (failureTimeoutNs: π_min + λ_min + 2·δ) it is exactly X-FD's rule, which the
// engine's watchdog applies online; with a guessed constant it is the classic baseline.
import { XlaneError } from '../errors.js';
import type { HeartbeatDetector } from './detector.js';

export class FixedTimeoutDetector implements HeartbeatDetector {
  private last: number | undefined;

  constructor(public timeoutNs: number) {
    if (!(timeoutNs > 0))
      throw new XlaneError('XL_ERR_VALIDATION', `timeout must be > 0 ns, got ${timeoutNs}`);
  }

  get lastHeartbeatNs(): number | undefined {
    return this.last;
  }

  heartbeat(nowNs: number): void {
    this.last = nowNs;
  }

  isAvailable(nowNs: number): boolean {
    return nowNs < this.suspectAtNs();
  }

  suspectAtNs(): number {
    return this.last === undefined ? Number.POSITIVE_INFINITY : this.last + this.timeoutNs;
  }
}
