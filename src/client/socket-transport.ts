// The client side of the local API (frames in ../agent/local-api/frames.ts). Requests are matched
// to replies by id; sends go out without waiting (id 0), and a refusal comes back later as an
// error reply naming the lane handle.
import { connect as netConnect, type Socket } from 'node:net';
import type { LaneEvent } from '../agent/local-api/backend.js';
import { Deframer } from '../agent/local-api/deframer.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  DELIVERY_HEADER_BYTES,
  DELIVERY_STAMPED_HEADER_BYTES,
  encodeJsonFrame,
  encodeSendFrame,
  FrameType,
  LOCAL_API_VERSION,
  parseJsonBody,
  type WireError,
} from '../agent/local-api/frames.js';
import type { DeliveryView, SendOutcome } from '../engine/types.js';
import { type ErrorCode, ErrorCodes, XlaneError } from '../errors.js';
import type { FdEvent, MemberStatus } from '../fd/types.js';
import type {
  ClientLaneCounters,
  ClientTransport,
  GroupSink,
  LaneOpenRequest,
  OpenedLane,
  TransportSink,
} from './transport.js';

interface Pending {
  resolve(v: unknown): void;
  reject(e: XlaneError): void;
  timer: NodeJS.Timeout;
  /** Runs synchronously with the reply, before any later frame of the same chunk is handled. */
  onResult?: (result: unknown) => void;
}

export interface SocketTransportOptions {
  socket: string;
  /** Per-request timeout (ms), on top of an open's waitLiveMs. Default 30 s. */
  timeoutMs?: number;
  maxFrameBytes?: number;
}

export class SocketTransport implements ClientTransport {
  readonly mode = 'socket' as const;
  private sink: TransportSink | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly deframer: Deframer;
  private readonly view: DeliveryView = {
    laneId: '',
    seq: 0,
    sentNs: 0,
    receivedNs: 0,
    // Set from DeliveryStamped frames; 0 (unknown) from an agent that sends plain Delivery ones.
    kernelReceivedNs: 0,
    payload: new Uint8Array(),
    heartbeat: -1,
  };
  private readonly laneIds = new Map<number, string>();
  private readonly groups = new Map<number, GroupSink>();
  private lastServerError: XlaneError | undefined;
  private goneErr: XlaneError | undefined;
  private isGone = false;
  /** close() or destroy() was called: the connection ending is this client's doing. */
  private leaving = false;

  private constructor(
    private readonly sock: Socket,
    private readonly opts: SocketTransportOptions,
  ) {
    this.deframer = new Deframer(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    sock.on('data', (chunk) => this.data(chunk));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      this.goneErr ??= new XlaneError(
        'XL_ERR_CONNECT',
        `local API connection failed: ${err.code ?? err.message}`,
      );
    });
    sock.on('close', () => this.finish(this.goneErr ?? this.lastServerError));
  }

  static async connect(opts: SocketTransportOptions): Promise<SocketTransport> {
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect(opts.socket);
      s.once('connect', () => resolve(s));
      s.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new XlaneError(
            'XL_ERR_CONNECT',
            `cannot reach the xlane agent at ${opts.socket} (${err.code ?? err.message}): is \`xlane agent\` running with --socket ${opts.socket}?`,
            { socket: opts.socket },
          ),
        ),
      );
    });
    sock.setNoDelay?.(true);
    const t = new SocketTransport(sock, opts);
    try {
      await t.request('hello', { version: LOCAL_API_VERSION, features: ['kernelStamp'] });
    } catch (err) {
      sock.destroy();
      throw err;
    }
    return t;
  }

  bind(sink: TransportSink): void {
    this.sink = sink;
  }

  async open(request: LaneOpenRequest, waitLiveMs?: number): Promise<OpenedLane> {
    const r = (await this.request(
      'open',
      { request, ...(waitLiveMs !== undefined ? { waitLiveMs } : {}) },
      waitLiveMs,
    )) as OpenedLane & { handle: number };
    this.laneIds.set(r.handle, r.lane.laneId);
    return { key: r.handle, lane: r.lane };
  }

  async listen(laneIdOrName: string): Promise<OpenedLane> {
    const r = (await this.request('listen', { lane: laneIdOrName })) as OpenedLane & { handle: number };
    this.laneIds.set(r.handle, r.lane.laneId);
    return { key: r.handle, lane: r.lane };
  }

  async closeLane(key: number): Promise<void> {
    await this.request('close', { lane: key });
    this.laneIds.delete(key);
  }

  send(key: number, payload: Uint8Array): SendOutcome {
    this.writable();
    this.sock.write(encodeSendFrame(0, key, payload));
    return 'queued';
  }

  async sendAcked(key: number, payload: Uint8Array): Promise<SendOutcome> {
    this.writable();
    const id = this.takeId();
    const p = this.expect(id);
    this.sock.write(encodeSendFrame(id, key, payload));
    return ((await p) as { outcome: SendOutcome }).outcome;
  }

  async counters(key: number): Promise<ClientLaneCounters> {
    return (await this.request('counters', { lane: key })) as ClientLaneCounters;
  }

  async subscribeGroup(group: string, sink: GroupSink): Promise<number> {
    const r = (await this.request('fdSubscribe', { group }, 0, (result) => {
      const { sub, members } = result as { sub: number; members: MemberStatus[] };
      this.groups.set(sub, sink);
      sink.start(sub, members);
    })) as { sub: number };
    return r.sub;
  }

  async unsubscribeGroup(sub: number): Promise<void> {
    if (!this.groups.delete(sub)) return;
    await this.request('fdUnsubscribe', { sub });
  }

  async close(): Promise<void> {
    if (this.isGone) return;
    this.leaving = true;
    await Promise.allSettled([...this.laneIds.keys()].map((k) => this.closeLane(k)));
    await new Promise<void>((resolve) => {
      if (this.sock.destroyed) return resolve();
      this.sock.once('close', () => resolve());
      this.sock.end();
    });
  }

  destroy(err?: XlaneError): void {
    this.leaving = true;
    this.goneErr ??= err;
    this.sock.destroy();
  }

  private writable(): void {
    if (this.isGone || this.sock.destroyed) {
      throw this.goneErr ?? new XlaneError('XL_ERR_CONNECT', 'the connection to the xlane agent is closed');
    }
  }

  private takeId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    return id;
  }

  private expect(id: number, extraMs = 0, onResult?: (result: unknown) => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(new XlaneError('XL_ERR_TIMEOUT', 'the xlane agent did not answer in time'));
        },
        (this.opts.timeoutMs ?? 30_000) + extraMs,
      );
      this.pending.set(id, { resolve, reject, timer, ...(onResult ? { onResult } : {}) });
    });
  }

  private request(
    op: string,
    args: Record<string, unknown>,
    extraMs = 0,
    onResult?: (result: unknown) => void,
  ): Promise<unknown> {
    this.writable();
    const id = this.takeId();
    const p = this.expect(id, extraMs, onResult);
    this.sock.write(encodeJsonFrame(FrameType.Request, { id, op, ...args }));
    return p;
  }

  private data(chunk: Buffer): void {
    this.deframer.push(chunk, (r) => {
      if (r.kind === 'frame') this.frame(r.body);
      else this.destroy(new XlaneError('XL_ERR_INTERNAL', 'the agent sent a malformed frame'));
    });
  }

  private frame(body: Uint8Array): void {
    const type = body[0];
    if (type === FrameType.Delivery || type === FrameType.DeliveryStamped) {
      const stamped = type === FrameType.DeliveryStamped;
      const header = stamped ? DELIVERY_STAMPED_HEADER_BYTES : DELIVERY_HEADER_BYTES;
      if (body.length < header) return;
      const dv = new DataView(body.buffer, body.byteOffset, body.length);
      const key = dv.getUint32(1);
      const v = this.view;
      v.laneId = this.laneIds.get(key) ?? '';
      v.seq = dv.getFloat64(5);
      v.sentNs = dv.getFloat64(13);
      v.receivedNs = dv.getFloat64(21);
      v.kernelReceivedNs = stamped ? dv.getFloat64(29) : 0;
      v.payload = body.subarray(header);
      this.sink?.delivery(key, v);
      return;
    }
    const msg = parseJsonBody(body);
    if (!msg) return;
    if (type === FrameType.Event) {
      const handle = msg.handle as number;
      const event = msg.event as LaneEvent;
      this.sink?.event(handle, event);
      // The agent let go of the handle with this event (the lane closed at the controller): the
      // Lane has ended and will not close it, so nothing else would ever remove it here.
      if (event?.type === 'closed') this.laneIds.delete(handle);
    } else if (type === FrameType.FdEvent) {
      this.groups.get(msg.sub as number)?.event(msg.event as FdEvent);
    } else if (type === FrameType.Reply) {
      const id = msg.id as number;
      const err = msg.ok === true ? undefined : fromWire(msg.error as WireError | undefined);
      const waiter = this.pending.get(id);
      if (id !== 0 && waiter) {
        this.pending.delete(id);
        clearTimeout(waiter.timer);
        if (err) waiter.reject(err);
        else {
          waiter.onResult?.(msg.result);
          waiter.resolve(msg.result);
        }
        return;
      }
      if (!err) return;
      const handle = err.details?.handle;
      if (typeof handle === 'number') this.sink?.refused(handle, err);
      else this.lastServerError = err;
    }
  }

  private finish(closeErr?: XlaneError): void {
    if (this.isGone) return;
    this.isGone = true;
    // A clean end the client did not ask for is the agent stopping (or restarting): the application
    // must not mistake it for its own close().
    const err =
      closeErr ??
      (this.leaving ? undefined : new XlaneError('XL_ERR_CONNECT', 'the agent closed the connection'));
    this.goneErr = err;
    this.deframer.poison();
    this.groups.clear();
    const why = err ?? new XlaneError('XL_ERR_CONNECT', 'the connection to the xlane agent closed');
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(why);
      this.pending.delete(id);
    }
    this.sink?.gone(err);
  }
}

function fromWire(e: WireError | undefined): XlaneError {
  const code: ErrorCode = e?.code && e.code in ErrorCodes ? e.code : 'XL_ERR_INTERNAL';
  return new XlaneError(code, e?.message ?? 'the agent refused the request', e?.details);
}
