// The watch hub: one WebSocket per agent. On `hello` the agent gets a full snapshot (a reconnect
// is a resync, so no update can be lost across it); afterwards every grant change concerning its
// host is pushed as an `update`, and the agent's `ack`s drive pending lanes live. Pings detect dead
// agents so `connected` in GET /v1/hosts tells the truth.
//
// A consumer that does not read (a stopped agent, a broken client) must not make the controller
// buffer for it without end: only a pong proves the peer reads (ws answers pings as it reads, in
// order, behind the updates), and a socket with more than maxBufferedBytes unsent (or four of its
// own snapshots, for a host with so many lanes that one snapshot comes near that) is closed at the
// next message. Closing loses nothing: a reconnect is a resync from a fresh snapshot.
//
// Nor may sockets pile up: one that has not said a valid hello within helloTimeoutMs is closed
// (pings alone keep nothing open), and a host has at most maxPerHost sockets that said hello. An
// agent has one; it drops its old socket before opening the next, but the controller may not learn
// of that (a half-open connection) until two ping periods pass, and a person may look at a host's
// stream by hand beside its agent, so the cap leaves room. A hello beyond it closes the host's
// oldest socket, the likeliest to be dead: the agent's reconnect, which says hello at once, is
// never the one refused. (An agent ignores the close of a socket it no longer uses.)
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { WebSocket } from 'ws';
import { AGENT_PROTOCOLS, protocolRefusal, refusalReason, WATCH_CLOSE_VERSION } from '../control-protocol.js';
import { isXlaneError, XlaneError } from '../errors.js';
import type { HostUpdate, Lifecycle } from './lifecycle.js';
import { ClientMessage } from './schemas.js';

const checkMessage = TypeCompiler.Compile(ClientMessage);

interface Conn {
  socket: WebSocket;
  host?: string;
  /** Order of the last valid hello (the oldest socket of a host goes first). */
  helloSeq: number;
  alive: boolean;
  /** Size of the last snapshot sent: a big host's reader may be a few of them behind. */
  snapshotBytes: number;
  /** Until the first valid hello. */
  helloTimer: NodeJS.Timeout | undefined;
}

export interface HubOptions {
  /** Ping period; a socket that missed one pong is closed. */
  heartbeatMs?: number;
  /** Unsent bytes a socket may hold before the next message closes it (default 8 MiB). */
  maxBufferedBytes?: number;
  /** A socket that has not said a valid hello this long after the upgrade is closed (default 10 s). */
  helloTimeoutMs?: number;
  /** Sockets that said hello for one host; another hello closes the oldest (default 4). */
  maxPerHost?: number;
  log?: { warn(obj: object, msg: string): void };
}

/** Many full snapshots of a busy host: an agent this far behind reads nothing. */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const SNAPSHOTS_BEHIND = 4;
/** An agent says hello as soon as its socket opens; this leaves room for a slow network. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/** The agent's socket, a look by hand, and the half-open remains of reconnects not yet reaped. */
export const DEFAULT_MAX_PER_HOST = 4;
/** Close codes (4000–4999: the application's), after the HTTP statuses they resemble. */
export const WATCH_CLOSE_HELLO_TIMEOUT = 4408;
export const WATCH_CLOSE_SUPERSEDED = 4409;
/** A hello of a control protocol this controller does not serve (4426, after 426 Upgrade Required). */
export { WATCH_CLOSE_VERSION };

/** At most one warning of a kind this often, with the count since: more live clients under one
 * host name than the cap evict each other in a loop, and a local process may open sockets that say
 * nothing in one; either must show in the log without flooding it. */
const WARN_INTERVAL_MS = 10_000;

/** Counts events per key and lets one warning through per interval, with how many there were. */
class WarnThrottle {
  private readonly last = new Map<string, { at: number; count: number }>();

  /** The count to report now, or undefined to stay quiet. */
  hit(key: string, n = 1, now = Date.now()): number | undefined {
    const e = this.last.get(key) ?? { at: Number.NEGATIVE_INFINITY, count: 0 };
    e.count += n;
    this.last.set(key, e);
    if (now - e.at < WARN_INTERVAL_MS) return undefined;
    const count = e.count;
    e.at = now;
    e.count = 0;
    return count;
  }
}

const NO_HELLO = '\0no-hello';
const REFUSED_PROTOCOL = '\0refused-protocol';

export class WatchHub {
  private readonly conns = new Set<Conn>();
  private readonly timer: NodeJS.Timeout;
  private readonly offUpdate: () => void;
  private readonly maxBufferedBytes: number;
  private readonly helloTimeoutMs: number;
  private readonly maxPerHost: number;
  private readonly log: HubOptions['log'];
  private helloCount = 0;
  /** Keys: a host name (superseded sockets; a host of the topology said hello), NO_HELLO or
   * REFUSED_PROTOCOL (one key for all: the hello's host is the peer's to make up). */
  private readonly warns = new WarnThrottle();

  constructor(
    private readonly lifecycle: Lifecycle,
    opts: HubOptions = {},
  ) {
    this.maxBufferedBytes = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    this.maxPerHost = Math.max(1, opts.maxPerHost ?? DEFAULT_MAX_PER_HOST);
    this.log = opts.log;
    this.offUpdate = lifecycle.onUpdate((u) => this.push(u));
    lifecycle.setConnectivity((h) => this.isConnected(h));
    this.timer = setInterval(() => this.heartbeat(), opts.heartbeatMs ?? 15_000);
    this.timer.unref();
  }

  /** Takes over a freshly upgraded socket; `queryHost` (from ?host=) pins the host it may speak for. */
  attach(socket: WebSocket, queryHost?: string): void {
    const conn: Conn = { socket, helloSeq: 0, alive: true, snapshotBytes: 0, helloTimer: undefined };
    this.conns.add(conn);
    conn.helloTimer = setTimeout(() => {
      // One key for all: the query's host is the peer's to make up.
      const closed = this.warns.hit(NO_HELLO);
      if (closed !== undefined)
        this.log?.warn(
          { host: queryHost, helloTimeoutMs: this.helloTimeoutMs, closed },
          'watch socket said no hello in time: closing it',
        );
      this.drop(conn, WATCH_CLOSE_HELLO_TIMEOUT, `no hello within ${this.helloTimeoutMs} ms`);
    }, this.helloTimeoutMs);
    conn.helloTimer.unref();
    socket.on('pong', () => {
      conn.alive = true;
    });
    socket.on('close', () => this.forget(conn));
    socket.on('error', () => this.forget(conn));
    // Only a pong marks the peer alive: a client that sends but never reads would otherwise stay
    // "connected" while everything sent to it piles up here.
    socket.on('message', (data, isBinary) => {
      // A socket being closed (it waits for the peer's close frame) is no longer served.
      if (!this.conns.has(conn)) return;
      try {
        this.handle(conn, isBinary ? undefined : data.toString(), queryHost);
      } catch (err) {
        const xe = isXlaneError(err) ? err : new XlaneError('XL_ERR_INTERNAL', 'internal error');
        this.send(conn, { type: 'error', code: xe.code, message: xe.message });
      }
    });
  }

  /** Open watch sockets (with or without a hello yet). */
  get connectionCount(): number {
    return this.conns.size;
  }

  isConnected(host: string): boolean {
    for (const c of this.conns) if (c.host === host) return true;
    return false;
  }

  close(): void {
    clearInterval(this.timer);
    this.offUpdate();
    for (const c of this.conns) {
      clearTimeout(c.helloTimer);
      c.socket.terminate();
    }
    this.conns.clear();
  }

  private forget(conn: Conn): void {
    clearTimeout(conn.helloTimer);
    this.conns.delete(conn);
  }

  /** Closes with a code and reason the peer can read (terminate() would give it 1006 and none). */
  private drop(conn: Conn, code: number, reason: string): void {
    this.forget(conn);
    conn.socket.close(code, reason);
  }

  /** After a hello for `host`: closes the host's oldest sockets beyond maxPerHost. */
  private capHost(host: string): void {
    const mine: Conn[] = [];
    for (const c of this.conns) if (c.host === host) mine.push(c);
    if (mine.length <= this.maxPerHost) return;
    mine.sort((a, b) => a.helloSeq - b.helloSeq);
    const excess = mine.slice(0, mine.length - this.maxPerHost);
    for (const c of excess)
      this.drop(
        c,
        WATCH_CLOSE_SUPERSEDED,
        `more than ${this.maxPerHost} watches for this host: oldest closed`,
      );
    const closed = this.warns.hit(host, excess.length);
    if (closed !== undefined)
      this.log?.warn(
        { host, maxPerHost: this.maxPerHost, closed },
        'a new watch for this host closed its oldest (two agents with one host name evict each other)',
      );
  }

  private handle(conn: Conn, text: string | undefined, queryHost?: string): void {
    let msg: unknown;
    try {
      if (text === undefined) throw new Error('binary');
      msg = JSON.parse(text);
    } catch {
      throw new XlaneError('XL_ERR_BAD_JSON', 'watch messages are JSON text');
    }
    if (this.refusedProtocol(conn, msg)) return;
    if (!checkMessage.Check(msg)) {
      // The root's own error is TypeBox's "Expected union value", which says less than the message.
      const first = checkMessage.Errors(msg).First();
      const detail = first?.path ? `: ${first.path} ${first.message}` : '';
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `expected {type:'hello', host, version?} or {type:'ack', version}${detail}`,
      );
    }
    if (msg.type === 'hello') {
      if (queryHost !== undefined && msg.host !== queryHost) {
        throw new XlaneError('XL_ERR_VALIDATION', `hello for ${msg.host} on a watch opened for ${queryHost}`);
      }
      const snap = this.lifecycle.grantsFor(msg.host);
      conn.host = msg.host;
      conn.helloSeq = ++this.helloCount;
      clearTimeout(conn.helloTimer);
      conn.helloTimer = undefined;
      const text = JSON.stringify({
        type: 'snapshot',
        version: snap.version,
        epoch: snap.epoch,
        grants: snap.grants,
      });
      conn.snapshotBytes = Buffer.byteLength(text);
      this.send(conn, text);
      this.capHost(msg.host);
      return;
    }
    if (conn.host === undefined) throw new XlaneError('XL_ERR_VALIDATION', "send {type:'hello', host} first");
    this.lifecycle.ack(conn.host, msg.version);
  }

  /** A hello of a protocol this controller does not serve gets XL_ERR_VERSION, then the close:
   * unlike a malformed message, nothing the peer could send next would help. Checked before the
   * schema, which describes this controller's protocols, not necessarily the peer's. */
  private refusedProtocol(conn: Conn, msg: unknown): boolean {
    if (typeof msg !== 'object' || msg === null) return false;
    const { type, host, protocol, agentVersion } = msg as Record<string, unknown>;
    if (type !== 'hello' || !Number.isSafeInteger(protocol)) return false;
    const refusal = protocolRefusal(
      typeof host === 'string' ? host : '(no host)',
      { protocol: protocol as number, ...(typeof agentVersion === 'string' ? { agentVersion } : {}) },
      AGENT_PROTOCOLS,
    );
    if (!refusal) return false;
    const closed = this.warns.hit(REFUSED_PROTOCOL);
    if (closed !== undefined) this.log?.warn({ ...refusal.details, closed }, refusal.message);
    this.send(conn, { type: 'error', code: refusal.code, message: refusal.message });
    this.drop(conn, WATCH_CLOSE_VERSION, refusalReason(protocol as number, AGENT_PROTOCOLS));
    return true;
  }

  private push(u: HostUpdate): void {
    const msg = { type: 'update', version: u.version, epoch: u.epoch, grants: u.grants, removed: u.removed };
    for (const c of this.conns) if (c.host === u.host) this.send(c, msg);
  }

  private heartbeat(): void {
    for (const c of this.conns) {
      if (!c.alive) {
        c.socket.terminate();
        this.forget(c);
        continue;
      }
      c.alive = false;
      c.socket.ping();
    }
  }

  /** `msg`: a message, or one already serialised. */
  private send(conn: Conn, msg: object | string): void {
    const { socket } = conn;
    if (socket.readyState !== socket.OPEN) return;
    // Checked before adding: one snapshot larger than the limit still goes to a reader that keeps up.
    const limit = Math.max(this.maxBufferedBytes, SNAPSHOTS_BEHIND * conn.snapshotBytes);
    if (socket.bufferedAmount > limit) {
      this.log?.warn(
        { host: conn.host, bufferedBytes: socket.bufferedAmount, limit },
        'watch consumer does not read: closing it (a reconnect resyncs from a snapshot)',
      );
      socket.terminate();
      this.forget(conn);
      return;
    }
    socket.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
}
