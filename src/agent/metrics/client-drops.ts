// What the local API drops for clients that do not read: deliveries per lane, failure-detector
// events per group. Counted for /metrics; logged at most once per lane (group) and interval, with the
// count since the line before, because a stuck client drops at the lane's full rate and a log line
// per message would be the next problem.
import type { AgentLog } from '../log.js';

export type ClientDropKind = 'delivery' | 'fdEvent';

interface DropState {
  total: number;
  sinceLog: number;
  lastLogMs: number;
}

export interface ClientDropsOptions {
  /** Minimum time between two log lines about one lane (group); default 10 s. */
  logEveryMs?: number;
  nowMs?: () => number;
}

export class ClientDrops {
  private readonly byLane = new Map<string, DropState>();
  private readonly byGroup = new Map<string, DropState>();
  private readonly logEveryMs: number;
  private readonly nowMs: () => number;

  constructor(
    private readonly log: AgentLog,
    opts: ClientDropsOptions = {},
  ) {
    this.logEveryMs = opts.logEveryMs ?? 10_000;
    this.nowMs = opts.nowMs ?? Date.now;
  }

  /** One message dropped; on the delivery path of a stuck client, so no allocation once a key is known. */
  record(kind: ClientDropKind, key: string): void {
    const states = kind === 'delivery' ? this.byLane : this.byGroup;
    let s = states.get(key);
    if (!s) {
      s = { total: 0, sinceLog: 0, lastLogMs: Number.NEGATIVE_INFINITY };
      states.set(key, s);
    }
    s.total++;
    s.sinceLog++;
    const now = this.nowMs();
    if (now - s.lastLogMs < this.logEveryMs) return;
    const what = kind === 'delivery' ? 'deliveries' : 'failure-detector events';
    this.log.warn(
      { [kind === 'delivery' ? 'lane' : 'group']: key, dropped: s.sinceLog, total: s.total },
      `a local client does not read: dropping ${what} (logged at most every ${this.logEveryMs / 1000} s)`,
    );
    s.lastLogMs = now;
    s.sinceLog = 0;
  }

  deliveries(): Iterable<[string, number]> {
    return totals(this.byLane);
  }

  fdEvents(): Iterable<[string, number]> {
    return totals(this.byGroup);
  }

  /** Forgets lanes this host no longer has (keeps the metric's label set as small as the lanes). */
  retainLanes(laneIds: ReadonlySet<string>): void {
    for (const id of this.byLane.keys()) if (!laneIds.has(id)) this.byLane.delete(id);
  }
}

function* totals(states: Map<string, DropState>): Iterable<[string, number]> {
  for (const [key, s] of states) yield [key, s.total];
}
