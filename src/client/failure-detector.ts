// A failure-detector group as an application follows it (X-FD, docs/fd.md): the other members'
// states, kept current from the agent's pushed changes, as events and as an async iterator.
// close() ends the subscription (iterators finish after what they hold); the detector itself keeps
// running in the agent.

import { EventEmitter } from 'node:events';
import type { FdEvent, MemberStatus } from '../fd/types.js';
import { IteratorFanout } from './iterator-fanout.js';
import type { ClientTransport, GroupSink } from './transport.js';

export interface FailureDetectorEvents {
  /** Any member change. */
  change: [event: FdEvent];
  up: [event: FdEvent];
  suspect: [event: FdEvent];
  down: [event: FdEvent];
  /** The subscription ended (close(), or the client went away). */
  closed: [reason: string];
}

export interface FailureDetectorOptions {
  /** Events an async iterator may hold before newer ones are dropped (counted in iteratorDropped). */
  highWaterMark?: number;
}

export class FailureDetector extends EventEmitter<FailureDetectorEvents> {
  readonly group: string;
  private sub = 0;
  private readonly table = new Map<string, MemberStatus>();
  private isClosed = false;
  private readonly iterators: IteratorFanout<FdEvent>;

  /** @internal what the transport feeds (start once, then events). */
  readonly sink: GroupSink = {
    start: (sub, members) => {
      this.sub = sub;
      for (const m of members) this.table.set(m.member, { ...m });
    },
    event: (e) => this.event(e),
  };

  /** @internal created by Client.failureDetector() */
  constructor(
    private readonly transport: ClientTransport,
    group: string,
    private readonly forget: (fd: FailureDetector) => void,
    opts: FailureDetectorOptions = {},
  ) {
    super();
    this.group = group;
    this.iterators = new IteratorFanout(opts.highWaterMark ?? 10_000);
  }

  /** Every other member of the group, as last reported. */
  get members(): MemberStatus[] {
    return [...this.table.values()].map((m) => ({ ...m }));
  }

  member(name: string): MemberStatus | undefined {
    const m = this.table.get(name);
    return m ? { ...m } : undefined;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Ends the subscription; the agent's detector keeps running. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    try {
      await this.transport.unsubscribeGroup(this.sub);
    } finally {
      this.end('closed by the application');
    }
  }

  /** Events an iterator could not hold (the application read too slowly). */
  get iteratorDropped(): number {
    return this.iterators.dropped;
  }

  [Symbol.asyncIterator](): AsyncIterator<FdEvent> {
    return this.iterators.iterator();
  }

  /** @internal */
  event(e: FdEvent): void {
    if (this.isClosed) return;
    const m = this.table.get(e.member);
    this.table.set(e.member, {
      group: e.group,
      member: e.member,
      state: e.state,
      ...(m?.laneId !== undefined ? { laneId: m.laneId } : {}),
      incarnation: e.incarnation,
      lastHeartbeatNs: e.lastHeartbeatNs,
      lastHeartbeatSentNs: e.lastHeartbeatSentNs,
      detectedNs: e.detectedNs,
      lastDetectionNs: e.state === 'up' ? (m?.lastDetectionNs ?? 0) : e.detectedNs,
      timeoutNs: e.timeoutNs,
      suspicions: (m?.suspicions ?? 0) + (e.state === 'suspect' ? 1 : 0),
      downs: (m?.downs ?? 0) + (e.state === 'down' ? 1 : 0),
    });
    this.emit('change', e);
    this.emit(e.state, e);
    this.iterators.publish(() => e);
  }

  /** @internal the subscription is over, for whatever reason. */
  end(reason: string, err?: Error): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.forget(this);
    this.iterators.end(err);
    this.emit('closed', reason);
  }
}
