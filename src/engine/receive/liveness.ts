// The receiver's liveness watch (the X-FD failure detector's engine half): per watched lane, when
// the last valid frame arrived, and the alive/suspect state machine. Pure: every time is passed in,
// so the same rules run on the js engine's main thread (fed by its pacing worker's watchdog) and
// are mirrored by the native engine thread (native/engine_rx.c), and both are tested without a clock.
import type { LivenessEvent, LivenessHandler } from '../types.js';

export type LiveState = 'unknown' | 'alive' | 'suspect';

export interface LaneLiveness {
  /** > 0: watched; suspect once no valid frame arrived for this long. */
  timeoutNs: number;
  state: LiveState;
  /** Receive time and sender timestamp of the last valid frame (0: none yet). */
  lastArrivalNs: number;
  lastSentNs: number;
  /** When the watch started (setReceiver): a lane that never sends is suspected this long after. */
  sinceNs: number;
  /** Where the engine publishes this lane's deadline to the thread that keeps time (-1: nowhere). */
  slot: number;
  gen: number;
}

export function newLiveness(timeoutNs: number, nowNs: number): LaneLiveness {
  return { timeoutNs, state: 'unknown', lastArrivalNs: 0, lastSentNs: 0, sinceNs: nowNs, slot: -1, gen: 0 };
}

/** Applies a receiver grant's timeout; a watch that starts (again) counts from now. */
export function applyWatchTimeout(live: LaneLiveness, timeoutNs: number, nowNs: number): void {
  if (timeoutNs > 0 && live.timeoutNs <= 0) {
    live.sinceNs = nowNs;
    live.state = 'unknown';
  }
  live.timeoutNs = Math.max(timeoutNs, 0);
}

/** The time at which a watched lane becomes suspect if nothing arrives before. */
export function deadlineNs(live: LaneLiveness): number {
  return Math.max(live.lastArrivalNs, live.sinceNs) + live.timeoutNs;
}

export class LivenessMonitor {
  private handler: LivenessHandler | undefined;
  private readonly event: LivenessEvent = {
    laneId: '',
    state: 'alive',
    incarnation: -1,
    lastArrivalNs: 0,
    lastSentNs: 0,
    atNs: 0,
  };

  onLiveness(handler: LivenessHandler): void {
    this.handler = handler;
  }

  /** A valid frame arrived on the lane. A watched lane that was silent past its deadline is
   * suspected first (the frame came too late, whoever noticed first), then revived; 'alive' also
   * on the first frame ever and when the sender's incarnation changed. True when the lane came
   * back from 'unknown' or 'suspect' (its watchdog has no deadline running and must be told). */
  frame(
    laneId: string,
    live: LaneLiveness,
    previousIncarnation: number,
    incarnation: number,
    receivedNs: number,
    sentNs: number,
  ): boolean {
    if (live.timeoutNs > 0 && live.state !== 'suspect' && receivedNs >= deadlineNs(live)) {
      // The silence belongs to the previous life when this frame starts a new one.
      live.state = 'suspect';
      this.emit(laneId, live, previousIncarnation, 'suspect', receivedNs);
    }
    live.lastArrivalNs = receivedNs;
    live.lastSentNs = sentNs;
    if (live.timeoutNs <= 0 || (live.state === 'alive' && incarnation === previousIncarnation)) return false;
    const revived = live.state !== 'alive';
    live.state = 'alive';
    this.emit(laneId, live, incarnation, 'alive', receivedNs);
    return revived;
  }

  /** The watchdog says the deadline has passed at `atNs`. Emits 'suspect' unless the lane is
   * already suspect or a frame arrived since (the watchdog raced with it); true when emitted. */
  expire(laneId: string, live: LaneLiveness, incarnation: number, atNs: number): boolean {
    if (live.timeoutNs <= 0 || live.state === 'suspect' || atNs < deadlineNs(live)) return false;
    live.state = 'suspect';
    this.emit(laneId, live, incarnation, 'suspect', atNs);
    return true;
  }

  private emit(
    laneId: string,
    live: LaneLiveness,
    incarnation: number,
    state: LiveState,
    atNs: number,
  ): void {
    const e = this.event;
    e.laneId = laneId;
    e.state = state === 'suspect' ? 'suspect' : 'alive';
    e.incarnation = incarnation;
    e.lastArrivalNs = live.lastArrivalNs;
    e.lastSentNs = live.lastSentNs;
    e.atNs = atNs;
    // A throwing handler surfaces like any listener's error (as onDelivery does).
    this.handler?.(e);
  }
}
