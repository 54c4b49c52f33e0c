// A lane as an application holds it: its grant, send (contract-checked), receive by callback or
// async iteration, and events when the controller changes the grant. close() is graceful (the
// lane is released at the controller, iterators finish after what they hold); destroy(err?) is
// immediate (iterators end now, rejecting with err if given) — the same split as undici.

import { EventEmitter } from 'node:events';
import type { LaneEvent, LocalLane } from '../agent/local-api/backend.js';
import type { Grant } from '../alloc/types.js';
import type { DeliveryView, SendOutcome } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import { diffGrants, type TimeoutChange } from './grant-diff.js';
import { IteratorFanout } from './iterator-fanout.js';
import type { ClientLaneCounters, ClientTransport } from './transport.js';

export type LaneState = 'pending' | 'live' | 'closed';

/** A delivered message. From an async iterator it is the application's own copy; an onMessage
 * callback gets one object per lane, reused (payload included) after the callback returns. */
export interface LaneMessage {
  laneId: string;
  seq: number;
  /** The sender's send timestamp and when the engine had the message, ns on the shared clock. */
  sentNs: number;
  receivedNs: number;
  /** When this host's kernel received the datagram, same clock; 0 when unknown (the js engine, or
   * an agent too old to send it). With it, `receivedNs − kernelReceivedNs`
   * is the receiving host's delay and `kernelReceivedNs − sentNs` the network's (docs/client.md). */
  kernelReceivedNs: number;
  payload: Uint8Array;
}

export interface LaneEvents {
  grant: [grant: Grant, previous: Grant];
  /** on_timeout_changed: a receiver's latency window (or the period) moved. */
  timeoutChanged: [change: TimeoutChange];
  /** on_pbsize_changed: σ_max changed. */
  payloadSizeChanged: [change: { maxPayloadBytes: number; previous: number }];
  periodChanged: [change: { minPeriodNs: number; previous: number }];
  live: [];
  /** A send the agent refused after send() returned (socket mode only). */
  refused: [err: XlaneError];
  closed: [reason: string];
}

export interface LaneOptions {
  /** Messages an async iterator may hold before newer ones are dropped (counted in iteratorDropped). */
  highWaterMark?: number;
}

export class Lane extends EventEmitter<LaneEvents> {
  readonly id: string;
  readonly role: 'sender' | 'receiver';
  private current: Grant;
  private laneState: LaneState;
  private readonly handlers = new Set<(m: LaneMessage) => void>();
  /** What onMessage callbacks get, refilled per delivery: no allocation per message, and the
   * engine's own view (and its optional fields) never reaches the application. */
  private readonly message: LaneMessage = {
    laneId: '',
    seq: 0,
    sentNs: 0,
    receivedNs: 0,
    kernelReceivedNs: 0,
    payload: new Uint8Array(0),
  };
  private readonly iterators: IteratorFanout<LaneMessage>;

  /** @internal created by Client */
  constructor(
    private readonly transport: ClientTransport,
    private readonly key: number,
    local: LocalLane,
    role: 'sender' | 'receiver',
    private readonly forget: (key: number) => void,
    opts: LaneOptions = {},
  ) {
    super();
    this.id = local.laneId;
    this.role = role;
    this.current = local.grant;
    this.laneState = local.state;
    this.iterators = new IteratorFanout(opts.highWaterMark ?? 65_536);
  }

  get grant(): Grant {
    return this.current;
  }

  get state(): LaneState {
    return this.laneState;
  }

  get name(): string | undefined {
    return this.current.name;
  }

  /** Sends one message. Larger than σ_max → XL_ERR_CONTRACT_SIZE here; the engine checks π_min
   * (XL_ERR_CONTRACT_RATE, or 'coalesced' with that policy). Over the socket the rate verdict comes
   * later as a 'refused' event; use sendAcked() to wait for it. */
  send(payload: Uint8Array): SendOutcome {
    this.checkSend(payload);
    return this.transport.send(this.key, payload);
  }

  sendAcked(payload: Uint8Array): Promise<SendOutcome> {
    try {
      this.checkSend(payload);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.transport.sendAcked(this.key, payload);
  }

  /** Calls `cb` for every message; the message object and payload are reused after it returns. */
  onMessage(cb: (m: LaneMessage) => void): () => void {
    this.checkReceive('onMessage');
    this.handlers.add(cb);
    return () => this.handlers.delete(cb);
  }

  /** Resolves once the lane may send (the controller's safe change order is done). */
  live(timeoutMs = 10_000): Promise<void> {
    if (this.laneState === 'live') return Promise.resolve();
    if (this.laneState === 'closed')
      return Promise.reject(new XlaneError('XL_ERR_UNKNOWN_LANE', `lane ${this.id} is closed`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new XlaneError('XL_ERR_TIMEOUT', `lane ${this.id} not live after ${timeoutMs} ms`));
      }, timeoutMs);
      const onLive = () => {
        cleanup();
        resolve();
      };
      const onClosed = (reason: string) => {
        cleanup();
        reject(new XlaneError('XL_ERR_UNKNOWN_LANE', `lane ${this.id} closed: ${reason}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        this.off('live', onLive);
        this.off('closed', onClosed);
      };
      this.on('live', onLive);
      this.on('closed', onClosed);
    });
  }

  counters(): Promise<ClientLaneCounters> {
    return this.transport.counters(this.key);
  }

  async close(): Promise<void> {
    if (this.laneState === 'closed') return;
    try {
      await this.transport.closeLane(this.key);
    } finally {
      this.end('closed by the application');
    }
  }

  destroy(err?: Error): void {
    if (this.laneState === 'closed') return;
    this.transport.closeLane(this.key).catch(() => {});
    this.end('destroyed by the application', err, true);
  }

  /** Messages an iterator could not hold (the application read too slowly). */
  get iteratorDropped(): number {
    return this.iterators.dropped;
  }

  [Symbol.asyncIterator](): AsyncIterator<LaneMessage> {
    this.checkReceive('async iteration');
    return this.iterators.iterator();
  }

  /** @internal */
  deliver(d: DeliveryView): void {
    const m = this.message;
    m.laneId = this.id;
    m.seq = d.seq;
    m.sentNs = d.sentNs;
    m.receivedNs = d.receivedNs;
    // An engine without kernel stamps may leave the field out: unknown is 0 for the application.
    m.kernelReceivedNs = d.kernelReceivedNs ?? 0;
    m.payload = d.payload;
    for (const h of this.handlers) h(m);
    // The view is reused by the engine: each iterator gets its own copy. Without an iterator,
    // nothing is built (not even the closure): callback-only receivers allocate nothing here.
    if (!this.iterators.active) return;
    this.iterators.publish(() => ({
      laneId: this.id,
      seq: d.seq,
      sentNs: d.sentNs,
      receivedNs: d.receivedNs,
      kernelReceivedNs: d.kernelReceivedNs ?? 0,
      payload: Uint8Array.prototype.slice.call(d.payload),
    }));
  }

  /** @internal */
  event(e: LaneEvent): void {
    if (e.type === 'closed') {
      this.end(e.reason);
      return;
    }
    const before = this.current;
    const wasLive = this.laneState === 'live';
    this.current = e.grant;
    this.laneState = e.state;
    if (e.grant.epoch !== before.epoch || JSON.stringify(e.grant) !== JSON.stringify(before)) {
      this.emit('grant', e.grant, before);
      const diff = diffGrants(before, e.grant);
      if (diff.payload) this.emit('payloadSizeChanged', diff.payload);
      if (diff.period) this.emit('periodChanged', diff.period);
      for (const t of diff.timeouts) this.emit('timeoutChanged', t);
    }
    if (!wasLive && e.state === 'live') this.emit('live');
  }

  /** @internal */
  refused(err: XlaneError): void {
    this.emit('refused', err);
  }

  /** @internal the lane is over, for whatever reason. */
  end(reason: string, err?: Error, now = false): void {
    if (this.laneState === 'closed') return;
    this.laneState = 'closed';
    this.forget(this.key);
    this.iterators.end(err, now);
    this.handlers.clear();
    this.emit('closed', reason);
  }

  /** A lane opened here delivers only if its own host is among its receivers, which the controller
   * refuses for applications' lanes: a callback or loop on it would wait forever, unnoticed. */
  private checkReceive(how: string): void {
    const g = this.current;
    if (this.role === 'receiver' || g.receivers.some((r) => r.host === g.sender)) return;
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `${how} on lane ${this.id}: it was opened here to send to ${g.receivers.map((r) => r.host).join(', ')}, ` +
        'so nothing arrives on it; receive with listen() on the receiving host',
      { laneId: this.id },
    );
  }

  private checkSend(payload: Uint8Array): void {
    if (this.laneState === 'closed') throw new XlaneError('XL_ERR_UNKNOWN_LANE', `lane ${this.id} is closed`);
    if (this.role !== 'sender') {
      throw new XlaneError('XL_ERR_FORBIDDEN', `lane ${this.id} is listened on here; only its opener sends`);
    }
    if (payload.length > this.current.maxPayloadBytes) {
      throw new XlaneError(
        'XL_ERR_CONTRACT_SIZE',
        `${payload.length}-byte message is over lane ${this.id}'s σ_max of ${this.current.maxPayloadBytes} bytes`,
        { laneId: this.id, size: payload.length, maxPayloadBytes: this.current.maxPayloadBytes },
      );
    }
  }
}
