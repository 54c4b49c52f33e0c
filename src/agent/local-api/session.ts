// One local-API connection: decodes its frames, enforces which lanes it may touch, and calls the
// LocalBackend. Transport-free (it gets bytes in and hands bytes out), so the fuzz tests drive it
// without a socket. A connection owns the lanes it opened (it may send, close and read counters)
// and the lanes it listens on (deliveries, counters); anything else is XL_ERR_FORBIDDEN. Listening
// is open to any connection for any lane towards this host: a receiving application never opens
// the lane (the sender's host does), so there is no opener to restrict it to. It may also follow
// failure-detector groups (fdSubscribe): their member changes come as FdEvent frames.

import type { LaneRequest } from '../../alloc/types.js';
import type { DeliveryView } from '../../engine/types.js';
import { isXlaneError, XlaneError } from '../../errors.js';
import type { FdEvent } from '../../fd/types.js';
import type { LocalBackend, LocalLane } from './backend.js';
import { Deframer } from './deframer.js';
import {
  encodeDeliveryFrame,
  encodeJsonFrame,
  FrameType,
  LOCAL_API_FEATURES,
  LOCAL_API_VERSION,
  parseJsonBody,
  type ReplyBody,
  SEND_HEADER_BYTES,
  type WireError,
} from './frames.js';

export interface SessionIo {
  /** Writes a whole frame (a slow reader's frames queue up: see backlog and highWaterBytes). */
  write(frame: Buffer): void;
  /** Bytes written but not yet taken by the peer. */
  backlog(): number;
  /** Ends the connection after the frames already written. */
  end(): void;
  /** Stops taking input from the peer until its backlog has drained (the transport resumes by
   * itself). Called once a reply pushed the backlog past highWaterBytes. */
  pauseInput?(): void;
}

export interface SessionOptions {
  maxFrameBytes: number;
  /** Deliveries are dropped (and counted) while more than this is waiting for a slow reader, and
   * input is paused (pauseInput) while replies wait beyond it. */
  highWaterBytes?: number;
}

/** Longest an `open` may wait for its lane to go live: the controller's own limit (timeoutMs). */
export const MAX_WAIT_LIVE_MS = 300_000;

/** What a local `open` may ask for: a LaneRequest without `sender`, which is always this agent's host
 * (a client naming another host must hear no, not see its wish silently replaced). */
const OPEN_REQUEST_FIELDS: ReadonlySet<string> = new Set(
  // A Record, so that a field added to LaneRequest fails to compile here until it is listed.
  Object.keys({
    name: true,
    receivers: true,
    maxPayloadBytes: true,
    minPeriodNs: true,
    deadlineNs: true,
    minPayloadBytes: true,
    maxPeriodNs: true,
    policy: true,
  } satisfies Record<keyof Omit<LaneRequest, 'sender'>, true>),
);

interface GroupSub {
  group: string;
  unsubscribe: () => void;
  /** The request that created it; until its reply is written, events wait in `held` (a client
   * cannot place an event for a subscription it has not heard of). */
  requestId: number;
  held: FdEvent[] | undefined;
}

interface OwnedLane {
  laneId: string;
  handle: number;
  opened: boolean;
  unsubscribe: () => void;
  /** This connection's deliveries of the lane dropped because it did not read. */
  dropped: number;
}

export class LocalSession {
  private readonly deframer: Deframer;
  private readonly byHandle = new Map<number, OwnedLane>();
  private readonly byLane = new Map<string, OwnedLane>();
  private nextHandle = 1;
  private readonly groupSubs = new Map<number, GroupSub>();
  private nextSub = 1;
  private greeted = false;
  /** The client asked for DeliveryStamped frames (kernel receive stamps) in its hello. */
  private kernelStamp = false;
  private ended = false;
  /** Deliveries dropped because the client did not keep up. */
  droppedDeliveries = 0;
  /** Failure-detector events dropped for the same reason (a re-subscribe returns the current states). */
  droppedFdEvents = 0;

  constructor(
    private readonly backend: LocalBackend,
    private readonly io: SessionIo,
    private readonly opts: SessionOptions,
  ) {
    this.deframer = new Deframer(opts.maxFrameBytes);
  }

  data(chunk: Buffer): void {
    this.deframer.push(chunk, (r) => {
      if (r.kind === 'oversize') {
        this.replyError(0, {
          code: 'XL_ERR_TOO_LARGE',
          message: `frame of ${r.announced} bytes is over the limit of ${this.opts.maxFrameBytes}; closing`,
        });
        this.io.end();
        this.ended = true;
      } else if (r.kind === 'empty') {
        this.replyError(0, { code: 'XL_ERR_VALIDATION', message: 'empty frame (no type byte)' });
      } else {
        this.frame(r.body);
      }
    });
  }

  /** The connection is gone: lanes it opened are closed, listens dropped. */
  async closed(): Promise<void> {
    this.ended = true;
    this.deframer.poison();
    const owned = [...this.byHandle.values()];
    this.byHandle.clear();
    this.byLane.clear();
    for (const g of this.groupSubs.values()) g.unsubscribe();
    this.groupSubs.clear();
    await Promise.allSettled(
      owned.map(async (l) => {
        l.unsubscribe();
        if (l.opened) await this.backend.closeLane(l.laneId);
      }),
    );
  }

  get lanes(): number {
    return this.byHandle.size;
  }

  private frame(body: Uint8Array): void {
    const type = body[0];
    if (type === FrameType.Send) {
      this.send(body);
      return;
    }
    if (type !== FrameType.Request) {
      this.replyError(0, {
        code: 'XL_ERR_VALIDATION',
        message: `unknown frame type 0x${(type ?? 0).toString(16)}`,
      });
      return;
    }
    const msg = parseJsonBody(body);
    if (!msg) {
      this.replyError(0, { code: 'XL_ERR_BAD_JSON', message: 'request body is not a JSON object' });
      return;
    }
    const id = msg.id;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 0xffffffff) {
      this.replyError(0, { code: 'XL_ERR_VALIDATION', message: 'request id must be an integer 1..2^32-1' });
      return;
    }
    this.request(id, msg).then(
      (result) => {
        this.reply({ id, ok: true, result: result ?? {} });
        this.releaseHeld(id);
      },
      (err) => this.replyError(id, toWire(err)),
    );
  }

  private async request(id: number, msg: Record<string, unknown>): Promise<unknown> {
    const op = msg.op;
    if (op === 'hello') {
      if (msg.version !== LOCAL_API_VERSION) {
        throw new XlaneError(
          'XL_ERR_VALIDATION',
          `local API version ${String(msg.version)} is not supported (this agent speaks ${LOCAL_API_VERSION})`,
        );
      }
      this.greeted = true;
      // Unknown features are not an error: a newer client asks, this agent grants what it knows.
      const asked = Array.isArray(msg.features) ? msg.features : [];
      const features = LOCAL_API_FEATURES.filter((f) => asked.includes(f));
      this.kernelStamp = features.includes('kernelStamp');
      return { version: LOCAL_API_VERSION, maxFrameBytes: this.opts.maxFrameBytes, features };
    }
    if (!this.greeted) throw new XlaneError('XL_ERR_VALIDATION', `send {op:'hello', version} before '${op}'`);
    switch (op) {
      case 'open': {
        const request = msg.request;
        if (request === null || typeof request !== 'object' || Array.isArray(request)) {
          throw new XlaneError(
            'XL_ERR_VALIDATION',
            'open needs request: {receivers, maxPayloadBytes, minPeriodNs, ...}',
          );
        }
        checkOpenFields(request as Record<string, unknown>);
        const wait = checkWaitLiveMs(msg.waitLiveMs);
        const lane = await this.backend.openLane(
          request as Omit<LaneRequest, 'sender'>,
          wait !== undefined ? { waitLiveMs: wait } : undefined,
        );
        return this.own(lane, true);
      }
      case 'listen': {
        if (typeof msg.lane !== 'string' || msg.lane === '') {
          throw new XlaneError('XL_ERR_VALIDATION', 'listen needs lane: a lane id or name');
        }
        return this.own(await this.backend.listen(msg.lane), false);
      }
      case 'close': {
        // A handle this connection let go of when its lane closed elsewhere (forget): the client
        // asked before the 'closed' event reached it. Nothing is left to close.
        if (this.released(msg.lane)) return {};
        const lane = this.owned(msg.lane);
        this.forget(lane);
        if (lane.opened) await this.backend.closeLane(lane.laneId);
        return {};
      }
      case 'fdSubscribe':
        return this.subscribeGroup(id, msg.group);
      case 'fdUnsubscribe': {
        const sub = typeof msg.sub === 'number' ? this.groupSubs.get(msg.sub) : undefined;
        if (!sub) {
          throw new XlaneError(
            'XL_ERR_FORBIDDEN',
            `no group subscription ${String(msg.sub)} on this connection`,
            {
              sub: msg.sub,
            },
          );
        }
        this.groupSubs.delete(msg.sub as number);
        sub.unsubscribe();
        return {};
      }
      case 'counters': {
        const lane = this.owned(msg.lane);
        const c = this.backend.counters(lane.laneId);
        if (!c) throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no counters for lane ${lane.laneId}`);
        return { ...c, droppedDeliveries: lane.dropped };
      }
      default:
        throw new XlaneError('XL_ERR_VALIDATION', `unknown op ${JSON.stringify(op)}`, { id });
    }
  }

  private subscribeGroup(
    requestId: number,
    group: unknown,
  ): { sub: number; group: string; members: unknown[] } {
    if (typeof group !== 'string' || group === '') {
      throw new XlaneError('XL_ERR_VALIDATION', 'fdSubscribe needs group: a failure-detector group name');
    }
    if (!this.backend.subscribeGroup) {
      throw new XlaneError('XL_ERR_NOT_FOUND', 'this agent runs no failure detector (start it with --fd)', {
        group,
      });
    }
    const sub = this.nextSub++;
    const s = this.backend.subscribeGroup(group, (event) => this.fdEvent(sub, event));
    if (this.ended) s.unsubscribe();
    else this.groupSubs.set(sub, { group, unsubscribe: s.unsubscribe, requestId, held: [] });
    return { sub, group, members: s.members };
  }

  private releaseHeld(requestId: number): void {
    for (const [sub, g] of this.groupSubs) {
      if (g.requestId !== requestId || !g.held) continue;
      const held = g.held;
      g.held = undefined;
      for (const e of held) this.fdEvent(sub, e);
    }
  }

  private fdEvent(sub: number, event: FdEvent): void {
    if (this.ended) return;
    const g = this.groupSubs.get(sub);
    if (g?.held) {
      g.held.push(event);
      return;
    }
    if (this.opts.highWaterBytes !== undefined && this.io.backlog() > this.opts.highWaterBytes) {
      this.droppedFdEvents++;
      if (g) this.backend.clientDropped?.('fdEvent', g.group);
      return;
    }
    this.io.write(encodeJsonFrame(FrameType.FdEvent, { sub, event }));
  }

  private own(lane: LocalLane, opened: boolean): { handle: number; lane: LocalLane } {
    if (this.ended) {
      // The client left while the controller was admitting its lane: nobody will ever close it.
      if (opened) this.backend.closeLane(lane.laneId).catch(() => {});
      return { handle: 0, lane };
    }
    const existing = this.byLane.get(lane.laneId);
    if (existing) {
      existing.opened ||= opened;
      return { handle: existing.handle, lane };
    }
    const handle = this.nextHandle++;
    const owned: OwnedLane = { laneId: lane.laneId, handle, opened, unsubscribe: () => {}, dropped: 0 };
    owned.unsubscribe = this.backend.subscribe(lane.laneId, {
      onDelivery: (d) => this.deliver(owned, d),
      onEvent: (event) => {
        if (this.ended) return;
        this.io.write(encodeJsonFrame(FrameType.Event, { handle, event }));
        // Closed at the controller (by its opener elsewhere, an operator, a topology change): the
        // client ends the lane on this event and never closes it here, so a long-lived connection
        // that listens to lane after lane would otherwise hold every one of them until it ends.
        if (event.type === 'closed') this.forget(owned);
      },
    });
    this.byHandle.set(handle, owned);
    this.byLane.set(lane.laneId, owned);
    return { handle, lane };
  }

  /** The connection stops holding the lane: no more deliveries or events, its handle is retired. */
  private forget(lane: OwnedLane): void {
    if (this.byHandle.get(lane.handle) !== lane) return;
    this.byHandle.delete(lane.handle);
    this.byLane.delete(lane.laneId);
    lane.unsubscribe();
  }

  /** A handle this connection was given and no longer holds (handles are never reused). */
  private released(ref: unknown): boolean {
    return (
      typeof ref === 'number' &&
      Number.isInteger(ref) &&
      ref >= 1 &&
      ref < this.nextHandle &&
      !this.byHandle.has(ref)
    );
  }

  /** A lane this connection holds, by handle or lane id. */
  private owned(ref: unknown): OwnedLane {
    const lane =
      typeof ref === 'number'
        ? this.byHandle.get(ref)
        : typeof ref === 'string'
          ? this.byLane.get(ref)
          : undefined;
    if (!lane) {
      throw new XlaneError(
        'XL_ERR_FORBIDDEN',
        `lane ${String(ref)} was not opened or listened on by this client`,
        {
          lane: ref,
        },
      );
    }
    return lane;
  }

  private send(body: Uint8Array): void {
    if (body.length < SEND_HEADER_BYTES) {
      this.replyError(0, {
        code: 'XL_ERR_VALIDATION',
        message: `send frame of ${body.length} bytes is shorter than its ${SEND_HEADER_BYTES}-byte header`,
      });
      return;
    }
    const dv = new DataView(body.buffer, body.byteOffset, body.length);
    const id = dv.getUint32(1);
    const handle = dv.getUint32(5);
    try {
      const lane = this.byHandle.get(handle);
      if (!lane?.opened) {
        throw new XlaneError('XL_ERR_FORBIDDEN', `lane handle ${handle} is not a lane this client opened`, {
          handle,
        });
      }
      const outcome = this.backend.send(lane.laneId, body.subarray(SEND_HEADER_BYTES));
      if (id !== 0) this.reply({ id, ok: true, result: { outcome } });
    } catch (err) {
      const e = toWire(err);
      this.replyError(id, { ...e, details: { ...e.details, handle } });
    }
  }

  private deliver(lane: OwnedLane, d: DeliveryView): void {
    if (this.ended) return;
    if (this.opts.highWaterBytes !== undefined && this.io.backlog() > this.opts.highWaterBytes) {
      this.droppedDeliveries++;
      lane.dropped++;
      this.backend.clientDropped?.('delivery', lane.laneId);
      return;
    }
    this.io.write(
      this.kernelStamp
        ? encodeDeliveryFrame(lane.handle, d.seq, d.sentNs, d.receivedNs, d.payload, d.kernelReceivedNs ?? 0)
        : encodeDeliveryFrame(lane.handle, d.seq, d.sentNs, d.receivedNs, d.payload),
    );
  }

  private reply(r: ReplyBody): void {
    if (this.ended) return;
    this.io.write(encodeJsonFrame(FrameType.Reply, r));
    // Replies are never dropped (a client matches each to its request), so a client that writes
    // and does not read must be slowed instead: pausing its input holds it at about this limit and
    // loses nothing, where closing would also take the lanes and replies of a client that only
    // pipelines and reads late. The check is one integer compare per reply, no allocation.
    if (this.opts.highWaterBytes !== undefined && this.io.backlog() > this.opts.highWaterBytes) {
      this.io.pauseInput?.();
    }
  }

  private replyError(id: number, error: WireError): void {
    this.reply({ id, ok: false, error });
  }
}

function checkOpenFields(request: Record<string, unknown>): void {
  if ('sender' in request) {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      "open request must not name a sender: a local lane is always sent by this agent's host",
      { field: 'sender' },
    );
  }
  const unknown = Object.keys(request).filter((k) => !OPEN_REQUEST_FIELDS.has(k));
  if (unknown.length > 0) {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `open request has unknown field(s) ${unknown.join(', ')} (allowed: ${[...OPEN_REQUEST_FIELDS].join(', ')})`,
      { fields: unknown },
    );
  }
}

/** undefined: do not wait. Checked here because the controller client turns it into a timer and a
 * query parameter, where an absurd value fails as something else entirely (a connect error). */
function checkWaitLiveMs(wait: unknown): number | undefined {
  if (wait === undefined) return undefined;
  if (typeof wait !== 'number' || !Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT_LIVE_MS) {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `waitLiveMs must be an integer 0..${MAX_WAIT_LIVE_MS} (ms), not ${JSON.stringify(wait) ?? String(wait)}`,
      { field: 'waitLiveMs' },
    );
  }
  return wait;
}

function toWire(err: unknown): WireError {
  if (isXlaneError(err)) {
    return err.details
      ? { code: err.code, message: err.message, details: err.details }
      : { code: err.code, message: err.message };
  }
  return { code: 'XL_ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) };
}
