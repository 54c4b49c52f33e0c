// The watch hub: one WebSocket per agent. On `hello` the agent gets a full snapshot (a reconnect
// is a resync, so no update can be lost across it); afterwards every grant change concerning its
// host is pushed as an `update`, and the agent's `ack`s drive pending lanes live. Pings detect dead
// agents so `connected` in GET /v1/hosts tells the truth.
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
}

export interface HubOptions {
  /** Ping period; a socket that missed one pong is closed. */
  heartbeatMs?: number;
}

export class WatchHub {
  private readonly conns = new Set<Conn>();
  private readonly timer: NodeJS.Timeout;
  private readonly offUpdate: () => void;

  constructor(
    private readonly lifecycle: Lifecycle,
    opts: HubOptions = {},
  ) {
    this.offUpdate = lifecycle.onUpdate((u) => this.push(u));
    lifecycle.setConnectivity((h) => this.isConnected(h));
    this.timer = setInterval(() => this.heartbeat(), opts.heartbeatMs ?? 15_000);
    this.timer.unref();
  }

  /** Takes over a freshly upgraded socket; `queryHost` (from ?host=) pins the host it may speak for. */
  attach(socket: WebSocket, queryHost?: string): void {
    const conn: Conn = { socket, alive: true };
    this.conns.add(conn);
    socket.on('pong', () => {
      conn.alive = true;
    });
    socket.on('close', () => this.conns.delete(conn));
    socket.on('error', () => this.conns.delete(conn));
    socket.on('message', (data, isBinary) => {
      conn.alive = true;
      try {
        this.handle(conn, isBinary ? undefined : data.toString(), queryHost);
      } catch (err) {
        const xe = isXlaneError(err) ? err : new XlaneError('XL_ERR_INTERNAL', 'internal error');
        send(conn, { type: 'error', code: xe.code, message: xe.message });
      }
    });
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
      send(conn, { type: 'snapshot', version: snap.version, epoch: snap.epoch, grants: snap.grants });
      return;
    }
    if (conn.host === undefined) throw new XlaneError('XL_ERR_VALIDATION', "send {type:'hello', host} first");
    this.lifecycle.ack(conn.host, msg.version);
  }

  private push(u: HostUpdate): void {
    const msg = { type: 'update', version: u.version, epoch: u.epoch, grants: u.grants, removed: u.removed };
    for (const c of this.conns) if (c.host === u.host) send(c, msg);
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
}

function send(conn: Conn, msg: object): void {
  if (conn.socket.readyState === conn.socket.OPEN) conn.socket.send(JSON.stringify(msg));
}
