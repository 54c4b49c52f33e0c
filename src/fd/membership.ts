// One group's view of its other members, as a pure state machine: inputs are the engine's liveness
// events for the members' FD lanes, lane (un)watching with the TO derived from the grant, and the
// clock (tick); outputs are FdEvents. No timers and no I/O: the group service drives it.
//
//   unknown ──heartbeat──▶ up ──timeout──▶ suspect ──confirm time──▶ down
//      │                   ▲                  │                         │
//      │                   └────heartbeat─────┴────────heartbeat────────┘ (same incarnation)
//      └──confirm time without any heartbeat──▶ down (never-heard)
//   larger incarnation while up/suspect: down (restarted, naming the OLD incarnation); the new one
//   starts unknown and its heartbeat makes it up
//   lane gone while up/suspect: down (lane-closed)
//
// Before the first heartbeat no timeout applies: a sender starts once it learns its lane is live,
// which no receiver can observe, so only the (much longer) confirm time judges a silent member.
import type { LivenessEvent } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import type { FdCause, FdEvent, MemberStatus } from './types.js';

export interface MembershipOptions {
  group: string;
  /** This host: a member too, but not watched by itself. */
  self: string;
  members: readonly string[];
  /** A member suspected (or never heard) without interruption for this long is declared down. */
  confirmNs: number;
}

interface Member {
  s: MemberStatus;
  /** Since when the member's lane is watched (undefined: no lane). */
  watchedSinceNs: number | undefined;
  /** Since when it is suspected without interruption. */
  suspectSinceNs: number | undefined;
}

export class Membership {
  readonly group: string;
  readonly confirmNs: number;
  private readonly members = new Map<string, Member>();

  constructor(opts: MembershipOptions) {
    if (!(opts.confirmNs > 0)) {
      throw new XlaneError('XL_ERR_VALIDATION', `confirm time must be > 0 ns, got ${opts.confirmNs}`);
    }
    this.group = opts.group;
    this.confirmNs = opts.confirmNs;
    for (const m of opts.members) {
      if (m === opts.self || this.members.has(m)) continue;
      this.members.set(m, {
        s: {
          group: opts.group,
          member: m,
          state: 'unknown',
          incarnation: -1,
          lastHeartbeatNs: 0,
          lastHeartbeatSentNs: 0,
          detectedNs: 0,
          lastDetectionNs: 0,
          timeoutNs: 0,
          suspicions: 0,
          downs: 0,
        },
        watchedSinceNs: undefined,
        suspectSinceNs: undefined,
      });
    }
  }

  has(member: string): boolean {
    return this.members.has(member);
  }

  /** The member's lane is (still) watched with this TO. No event: the TO is not a state. */
  watch(member: string, laneId: string, timeoutNs: number, nowNs: number): void {
    const m = this.members.get(member);
    if (!m) return;
    if (m.s.laneId !== laneId) m.watchedSinceNs = nowNs;
    m.s.laneId = laneId;
    m.s.timeoutNs = timeoutNs;
  }

  /** The member's lane is gone: it can no longer be judged. */
  unwatch(member: string, nowNs: number): FdEvent[] {
    const m = this.members.get(member);
    if (!m || m.s.laneId === undefined) return [];
    delete m.s.laneId;
    m.watchedSinceNs = undefined;
    const out: FdEvent[] = [];
    if (m.s.state === 'up' || m.s.state === 'suspect') out.push(this.down(m, 'lane-closed', nowNs));
    m.s.timeoutNs = 0;
    return out;
  }

  /** An engine liveness event for the member's lane (the engine reuses `e`: read, never keep). */
  liveness(member: string, e: LivenessEvent): FdEvent[] {
    const m = this.members.get(member);
    if (!m || m.s.laneId !== e.laneId) return [];
    // The engine drops frames of an older incarnation; an event naming one is stale.
    if (e.incarnation >= 0 && e.incarnation < m.s.incarnation) return [];
    // Silence before any frame: no TO applies yet (see top); the confirm time judges it.
    if (e.state === 'suspect' && e.lastArrivalNs <= 0) return [];
    const out: FdEvent[] = [];
    if (m.s.incarnation >= 0 && e.incarnation > m.s.incarnation) {
      if (m.s.state === 'up' || m.s.state === 'suspect') out.push(this.down(m, 'restarted', e.atNs));
      m.s.incarnation = e.incarnation;
      if (e.state === 'suspect') {
        // A late first frame of the new incarnation: the silence it ends was the OLD one's. The new
        // incarnation starts unheard; the 'alive' the engine reports with that frame makes it up.
        m.s.state = 'unknown';
        m.watchedSinceNs = e.atNs;
        m.suspectSinceNs = undefined;
        return out;
      }
      m.s.state = 'unknown';
    }
    if (e.incarnation >= 0) m.s.incarnation = e.incarnation;
    if (e.lastArrivalNs > 0) {
      m.s.lastHeartbeatNs = e.lastArrivalNs;
      m.s.lastHeartbeatSentNs = e.lastSentNs;
    }
    if (e.state === 'alive') {
      if (m.s.state !== 'up') {
        m.suspectSinceNs = undefined;
        out.push(this.change(m, 'up', 'heartbeat', e.atNs));
      }
    } else if (m.s.state === 'up' || m.s.state === 'unknown') {
      m.suspectSinceNs = e.atNs;
      m.s.suspicions++;
      out.push(this.change(m, 'suspect', 'timeout', e.atNs));
    }
    return out;
  }

  /** Confirms what has lasted long enough at `nowNs`. */
  tick(nowNs: number): FdEvent[] {
    const out: FdEvent[] = [];
    for (const m of this.members.values()) {
      if (m.s.state === 'suspect' && m.suspectSinceNs !== undefined) {
        if (nowNs - m.suspectSinceNs >= this.confirmNs) out.push(this.down(m, 'confirmed', nowNs));
      } else if (m.s.state === 'unknown' && m.watchedSinceNs !== undefined) {
        if (nowNs - m.watchedSinceNs >= this.confirmNs) out.push(this.down(m, 'never-heard', nowNs));
      }
    }
    return out;
  }

  /** When tick() next has something to confirm (undefined: nothing pending). */
  nextDeadlineNs(): number | undefined {
    let next: number | undefined;
    for (const m of this.members.values()) {
      const since =
        m.s.state === 'suspect' ? m.suspectSinceNs : m.s.state === 'unknown' ? m.watchedSinceNs : undefined;
      if (since === undefined) continue;
      const at = since + this.confirmNs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  status(member: string): MemberStatus | undefined {
    const m = this.members.get(member);
    return m ? { ...m.s } : undefined;
  }

  statuses(): MemberStatus[] {
    return [...this.members.values()].map((m) => ({ ...m.s }));
  }

  private down(m: Member, cause: FdCause, atNs: number): FdEvent {
    m.suspectSinceNs = undefined;
    m.s.downs++;
    return this.change(m, 'down', cause, atNs);
  }

  private change(m: Member, state: FdEvent['state'], cause: FdCause, atNs: number): FdEvent {
    m.s.state = state;
    m.s.detectedNs = atNs;
    if (state !== 'up') m.s.lastDetectionNs = atNs;
    return {
      group: this.group,
      member: m.s.member,
      state,
      cause,
      incarnation: m.s.incarnation,
      lastHeartbeatNs: m.s.lastHeartbeatNs,
      lastHeartbeatSentNs: m.s.lastHeartbeatSentNs,
      detectedNs: atNs,
      timeoutNs: m.s.timeoutNs,
    };
  }
}
