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
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { WebSocket } from 'ws';
import { isXlaneError, XlaneError } from '../errors.js';
import type { HostUpdate, Lifecycle } from './lifecycle.js';
import { ClientMessage } from './schemas.js';

const checkMessage = TypeCompiler.Compile(ClientMessage);

interface Conn {
  socket: WebSocket;
  host?: string;
  alive: boolean;
  /** Size of the last snapshot sent: a big host's reader may be a few of them behind. */
  snapshotBytes: number;
}

export interface HubOptions {
  /** Ping period; a socket that missed one pong is closed. */
  heartbeatMs?: number;
  /** Unsent bytes a socket may hold before the next message closes it (default 8 MiB). */
  maxBufferedBytes?: number;
  log?: { warn(obj: object, msg: string): void };
}

/** Many full snapshots of a busy host: an agent this far behind reads nothing. */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const SNAPSHOTS_BEHIND = 4;

export class WatchHub {
  private readonly conns = new Set<Conn>();
  private readonly timer: NodeJS.Timeout;
  private readonly offUpdate: () => void;
  private readonly maxBufferedBytes: number;
  private readonly log: HubOptions['log'];

  constructor(
    private readonly lifecycle: Lifecycle,
    opts: HubOptions = {},
  ) {
    this.maxBufferedBytes = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.log = opts.log;
    this.offUpdate = lifecycle.onUpdate((u) => this.push(u));
    lifecycle.setConnectivity((h) => this.isConnected(h));
    this.timer = setInterval(() => this.heartbeat(), opts.heartbeatMs ?? 15_000);
    this.timer.unref();
  }

  /** Takes over a freshly upgraded socket; `queryHost` (from ?host=) pins the host it may speak for. */
  attach(socket: WebSocket, queryHost?: string): void {
    const conn: Conn = { socket, alive: true, snapshotBytes: 0 };
    this.conns.add(conn);
    socket.on('pong', () => {
      conn.alive = true;
    });
    socket.on('close', () => this.conns.delete(conn));
    socket.on('error', () => this.conns.delete(conn));
    // Only a pong marks the peer alive: a client that sends but never reads would otherwise stay
    // "connected" while everything sent to it piles up here.
    socket.on('message', (data, isBinary) => {
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
    for (const c of this.conns) c.socket.terminate();
    this.conns.clear();
  }

  private handle(conn: Conn, text: string | undefined, queryHost?: string): void {
    let msg: unknown;
    try {
      if (text === undefined) throw new Error('binary');
      msg = JSON.parse(text);
    } catch {
      throw new XlaneError('XL_ERR_BAD_JSON', 'watch messages are JSON text');
    }
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
      const text = JSON.stringify({
        type: 'snapshot',
        version: snap.version,
        epoch: snap.epoch,
        grants: snap.grants,
      });
      conn.snapshotBytes = Buffer.byteLength(text);
      this.send(conn, text);
      return;
    }
    if (conn.host === undefined) throw new XlaneError('XL_ERR_VALIDATION', "send {type:'hello', host} first");
    this.lifecycle.ack(conn.host, msg.version);
  }

  private push(u: HostUpdate): void {
    const msg = { type: 'update', version: u.version, epoch: u.epoch, grants: u.grants, removed: u.removed };
    for (const c of this.conns) if (c.host === u.host) this.send(c, msg);
  }

  private heartbeat(): void {
    for (const c of this.conns) {
      if (!c.alive) {
        c.socket.terminate();
        this.conns.delete(c);
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
      this.conns.delete(conn);
      return;
    }
    socket.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
}
