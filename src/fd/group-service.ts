// X-FD inside the agent. For every group this host belongs to it
// - keeps ONE one-to-many lane `xfd.<group>.<host>` from this host to all other members, opened
//   through the controller, on which the engine itself sends a heartbeat every granted period with
//   this agent's incarnation (HeartbeatPlan.sender);
// - recognises the other members' FD lanes among the grants it receives and has the engine watch
//   each live one with TO = π_min + λ_min + 2·δ from that grant (HeartbeatPlan.receiver), moving
//   TO when the grant moves (a smaller TO after a hold, see timeout.ts);
// - turns the engine's liveness events into member states (membership.ts), confirms suspicions on a
//   timer, logs the changes (a bounded number per second) and pushes them to subscribers.
// Nothing here runs per heartbeat: the engine's own thread watches the lanes and reports changes.

import { Backoff, type BackoffOptions } from '../agent/backoff.js';
import type { HeartbeatPlan } from '../agent/lane-specs.js';
import { type AgentLog, silentLog } from '../agent/log.js';
import type { LaneRequest } from '../alloc/types.js';
import type { WireGrant } from '../controller/views.js';
import { monotonicNs } from '../engine/clock.js';
import type { LivenessEvent, ReceiverHeartbeatSpec } from '../engine/types.js';
import { isXlaneError, XlaneError } from '../errors.js';
import { classifyFdLane, type FdGroupConfig, fdLaneName, validateGroups } from './group-config.js';
import { Membership } from './membership.js';
import { failureTimeoutNs, retarget, settle, type TimeoutSchedule } from './timeout.js';
import type { FdEvent, GroupSubscription, MemberStatus } from './types.js';

export const DEFAULT_FD_PERIOD_NS = 1_000_000;
export const DEFAULT_FD_CONFIRM_NS = 1_000_000_000;
export const DEFAULT_FD_TIMEOUT_HOLD_NS = 1_000_000_000;
/** Heartbeat frames carry no DATA; σ = 1 is the smallest lane the controller admits. */
export const FD_PAYLOAD_BYTES = 1;
const LOG_EVENTS_PER_SECOND = 20;

/** The two controller calls the service makes (a ControllerClient, or a fake in tests). */
export interface FdController {
  openLane(request: LaneRequest): Promise<{ lane: { id: string } }>;
  closeLane(laneId: string): Promise<unknown>;
}

export interface FdServiceOptions {
  host: string;
  groups: FdGroupConfig[];
  controller: FdController;
  /** Sent in every heartbeat; must grow across restarts (see incarnation.ts). */
  incarnation: number;
  /** Heartbeat period asked for (π); default 1 ms. */
  periodNs?: number;
  /** The controller may stretch the period up to this to fit the lane (default: no stretching). */
  maxPeriodNs?: number;
  /** Suspected (or never heard) this long without interruption → down. Default 1 s. */
  confirmNs?: number;
  /** A smaller TO from a changed grant applies after this long; default 1 s. */
  timeoutHoldNs?: number;
  log?: AgentLog;
  /** CLOCK_MONOTONIC ns, the engine's clock (injectable for tests). */
  now?: () => number;
  backoff?: BackoffOptions;
  /** The heartbeat part of the engine specs changed outside a grant update (a held TO came into
   * force): the agent re-applies the specs. */
  onSpecsChanged?: () => void;
}

export type FdListener = (e: FdEvent) => void;

interface Watched {
  group: string;
  member: string;
  schedule: TimeoutSchedule;
}

export class FdGroupService {
  readonly host: string;
  readonly incarnation: number;
  readonly periodNs: number;
  private readonly groups: ReadonlyMap<string, FdGroupConfig>;
  private readonly memberships = new Map<string, Membership>();
  private readonly watched = new Map<string, Watched>();
  /** This host's FD lane per group, as the last book showed it. */
  private readonly own = new Map<string, WireGrant>();
  /** Lanes opened but not yet seen in the book (no second open meanwhile). */
  private readonly expecting = new Map<string, { laneId: string; sinceNs: number }>();
  private readonly listeners = new Map<string, Set<FdListener>>();
  private readonly warned = new Set<string>();
  private readonly log: AgentLog;
  private readonly now: () => number;
  private readonly holdNs: number;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private reconciling = false;
  private dirty = false;
  private observed = false;
  private closed = false;
  private logWindow = { startNs: 0, count: 0, suppressed: 0 };

  /** For lane-specs: which lanes carry or watch heartbeats, with what. */
  readonly heartbeats: HeartbeatPlan = {
    sender: (g) => (this.isOwnLane(g) ? { incarnation: this.incarnation } : undefined),
    receiver: (g) => this.receiverSpec(g),
  };

  constructor(private readonly opts: FdServiceOptions) {
    validateGroups(opts.host, opts.groups);
    this.host = opts.host;
    this.incarnation = opts.incarnation;
    this.periodNs = opts.periodNs ?? DEFAULT_FD_PERIOD_NS;
    if (!(this.periodNs > 0)) throw new XlaneError('XL_ERR_VALIDATION', 'the heartbeat period must be > 0');
    this.holdNs = opts.timeoutHoldNs ?? DEFAULT_FD_TIMEOUT_HOLD_NS;
    this.log = opts.log ?? silentLog;
    this.now = opts.now ?? monotonicNs;
    this.backoff = new Backoff({ initialMs: 500, maxMs: 30_000, ...opts.backoff });
    this.groups = new Map(opts.groups.map((g) => [g.name, g]));
    for (const g of opts.groups) {
      this.memberships.set(
        g.name,
        new Membership({
          group: g.name,
          self: opts.host,
          members: g.members,
          confirmNs: opts.confirmNs ?? DEFAULT_FD_CONFIRM_NS,
        }),
      );
    }
  }

  groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** The grants this host holds now (called before the engine is synced with them). */
  observe(grants: Iterable<WireGrant>): void {
    if (this.closed) return;
    const now = this.now();
    const seen = new Set<string>();
    this.own.clear();
    for (const g of grants) {
      const c = classifyFdLane(g, this.host, this.groups);
      if (c.role === 'invalid') {
        this.warnOnce(
          `${g.laneId}/${c.why}`,
          { lane: g.laneId, name: g.name, group: c.group },
          `not an FD lane: ${c.why}`,
        );
      } else if (c.role === 'sender') {
        this.own.set(c.group, g);
        if (this.expecting.get(c.group)?.laneId === g.laneId) this.expecting.delete(c.group);
      } else if (c.role === 'receiver' && g.state === 'live') {
        const target = failureTimeoutNs(g, this.host);
        if (target === undefined) continue;
        seen.add(g.laneId);
        const w = this.watched.get(g.laneId);
        const schedule = retarget(w?.schedule, target, now, this.holdNs);
        if (!w) {
          this.watched.set(g.laneId, { group: c.group, member: c.member, schedule });
          this.log.info(
            { group: c.group, member: c.member, lane: g.laneId, timeoutNs: schedule.effectiveNs },
            'fd: watching member',
          );
        } else {
          if (w.schedule.targetNs !== target) {
            this.log.info(
              {
                group: c.group,
                member: c.member,
                lane: g.laneId,
                timeoutNs: target,
                was: w.schedule.targetNs,
              },
              schedule.applyAtNs === undefined
                ? 'fd: timeout changed'
                : 'fd: timeout will shrink after the hold',
            );
          }
          w.schedule = schedule;
        }
        this.membership(c.group).watch(c.member, g.laneId, schedule.effectiveNs, now);
      }
    }
    for (const [laneId, w] of this.watched) {
      if (seen.has(laneId)) continue;
      this.watched.delete(laneId);
      this.emit(this.membership(w.group).unwatch(w.member, now));
    }
    this.observed = true;
    this.schedule();
    this.reconcileSoon();
  }

  /** An engine liveness event (the engine reuses `e`). */
  liveness(e: LivenessEvent): void {
    const w = this.watched.get(e.laneId);
    if (!w || this.closed) return;
    this.emit(this.membership(w.group).liveness(w.member, e));
    this.schedule();
  }

  subscribe(group: string, listener: FdListener): GroupSubscription {
    const m = this.memberships.get(group);
    if (!m) {
      throw new XlaneError(
        'XL_ERR_NOT_FOUND',
        `no failure-detector group ${group} on this agent (it runs: ${this.groupNames().join(', ') || 'none'})`,
        { group },
      );
    }
    const set = this.listeners.get(group) ?? new Set<FdListener>();
    this.listeners.set(group, set);
    set.add(listener);
    return {
      members: m.statuses(),
      unsubscribe: () => {
        set.delete(listener);
      },
    };
  }

  /** Every watched member of every group, now. */
  statuses(): MemberStatus[] {
    return [...this.memberships.values()].flatMap((m) => m.statuses());
  }

  /** Runs what is due now: held timeouts that come into force, suspicions that are confirmed. */
  tick(): void {
    if (this.closed) return;
    const now = this.now();
    let specs = false;
    for (const [laneId, w] of this.watched) {
      const next = settle(w.schedule, now);
      if (next === w.schedule) continue;
      w.schedule = next;
      specs = true;
      this.membership(w.group).watch(w.member, laneId, next.effectiveNs, now);
      this.log.info(
        { group: w.group, member: w.member, lane: laneId, timeoutNs: next.effectiveNs },
        'fd: timeout changed',
      );
    }
    for (const m of this.memberships.values()) this.emit(m.tick(now));
    if (specs) this.opts.onSpecsChanged?.();
    this.schedule();
  }

  /** Stops timers and subscriptions. The lanes stay: a stopped agent is exactly what the other
   * members must detect, and a restarted one re-adopts its lane by name. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    this.listeners.clear();
  }

  // ---- internals ----

  private membership(group: string): Membership {
    return this.memberships.get(group)!;
  }

  private isOwnLane(g: WireGrant): boolean {
    return g.sender === this.host && classifyFdLane(g, this.host, this.groups).role === 'sender';
  }

  private receiverSpec(g: WireGrant): ReceiverHeartbeatSpec | undefined {
    const w = this.watched.get(g.laneId);
    return w ? { deliver: false, timeoutNs: w.schedule.effectiveNs } : undefined;
  }

  private emit(events: FdEvent[]): void {
    for (const e of events) {
      this.logEvent(e);
      for (const l of this.listeners.get(e.group) ?? []) {
        try {
          l(e);
        } catch (err) {
          this.log.error({ group: e.group, err: (err as Error).message }, 'fd: a subscriber threw');
        }
      }
    }
  }

  /** State changes are rare, but a flapping member could change every TO: at most
   * LOG_EVENTS_PER_SECOND lines a second, then one line with the number left out. */
  private logEvent(e: FdEvent): void {
    const now = this.now();
    const w = this.logWindow;
    if (now - w.startNs >= 1e9) {
      if (w.suppressed > 0)
        this.log.warn({ suppressed: w.suppressed }, 'fd: member changes not logged (too many)');
      this.logWindow = { startNs: now, count: 0, suppressed: 0 };
    }
    if (this.logWindow.count >= LOG_EVENTS_PER_SECOND) {
      this.logWindow.suppressed++;
      return;
    }
    this.logWindow.count++;
    const fields = {
      group: e.group,
      member: e.member,
      cause: e.cause,
      incarnation: e.incarnation,
      lastHeartbeatNs: e.lastHeartbeatNs,
      detectedNs: e.detectedNs,
      timeoutNs: e.timeoutNs,
    };
    if (e.state === 'up') this.log.info(fields, 'fd: member up');
    else this.log.warn(fields, `fd: member ${e.state}`);
  }

  /** One timer for the earliest of: a confirmation due, a held TO coming into force. */
  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    let next: number | undefined;
    for (const m of this.memberships.values()) {
      const at = m.nextDeadlineNs();
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    for (const w of this.watched.values()) {
      const at = w.schedule.applyAtNs;
      if (at !== undefined && (next === undefined || at < next)) next = at;
    }
    if (next === undefined) return;
    const ms = Math.max(1, Math.ceil((next - this.now()) / 1e6));
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private reconcileSoon(): void {
    if (this.closed || !this.observed || this.retryTimer) return;
    if (this.reconciling) {
      this.dirty = true;
      return;
    }
    this.reconciling = true;
    void this.reconcileOwnLanes().then((ok) => {
      this.reconciling = false;
      if (this.closed) return;
      if (!ok) {
        const ms = this.backoff.next();
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.reconcileSoon();
        }, ms);
        this.retryTimer.unref();
      } else {
        this.backoff.reset();
        if (this.dirty) {
          this.dirty = false;
          this.reconcileSoon();
        }
      }
    });
  }

  /** Makes sure this host has its FD lane in every group; false when something must be retried. */
  private async reconcileOwnLanes(): Promise<boolean> {
    let ok = true;
    for (const g of this.groups.values()) {
      const receivers = g.members.filter((m) => m !== this.host).sort();
      if (receivers.length === 0) continue;
      const lane = this.own.get(g.name);
      const pending = this.expecting.get(g.name);
      try {
        if (lane) {
          const has = lane.receivers.map((r) => r.host).sort();
          if (has.join(',') === receivers.join(',')) continue;
          // Receivers of a lane cannot change in place: replace it.
          this.log.info(
            { group: g.name, lane: lane.laneId, had: has, wants: receivers },
            'fd: group members changed; replacing this host’s FD lane',
          );
          await this.closeQuietly(lane.laneId);
          this.own.delete(g.name);
        } else if (pending && this.now() - pending.sinceNs < 30e9) {
          continue; // opened; its grant is on the way
        }
        const res = await this.opts.controller.openLane({
          name: fdLaneName(g.name, this.host),
          sender: this.host,
          receivers,
          maxPayloadBytes: FD_PAYLOAD_BYTES,
          minPeriodNs: this.periodNs,
          ...(this.opts.maxPeriodNs !== undefined ? { maxPeriodNs: this.opts.maxPeriodNs } : {}),
          policy: 'coalesce',
        });
        this.expecting.set(g.name, { laneId: res.lane.id, sinceNs: this.now() });
        this.log.info(
          {
            group: g.name,
            lane: res.lane.id,
            receivers,
            periodNs: this.periodNs,
            incarnation: this.incarnation,
          },
          'fd: heartbeat lane opened',
        );
      } catch (err) {
        ok = false;
        const code = isXlaneError(err) ? err.code : 'XL_ERR_INTERNAL';
        this.log.warn(
          { group: g.name, code, err: (err as Error).message },
          code === 'XL_ERR_DUPLICATE'
            ? 'fd: a lane named like this host’s FD lane exists but this host does not hold it (yet); retrying'
            : 'fd: could not open the heartbeat lane; retrying',
        );
      }
    }
    return ok;
  }

  private async closeQuietly(laneId: string): Promise<void> {
    try {
      await this.opts.controller.closeLane(laneId);
    } catch (err) {
      if (!(isXlaneError(err) && err.code === 'XL_ERR_UNKNOWN_LANE')) throw err;
    }
  }

  private warnOnce(key: string, obj: object, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(obj, `fd: ${msg}`);
  }
}
