// Follows this host's grants over the controller's watch WebSocket (protocol: docs/api.md).
// Every connection starts with `beforeConnect` (registration) and a hello; the controller answers
// a full snapshot, so a reconnect is a resync. Each snapshot and update is handed to the daemon
// and ACKed only once the daemon resolved it, and not when it resolved false (some grant could not
// be applied): an ACK means "this host obeys these grants".
// When the controller goes away nothing is torn down; the client just keeps trying, with capped
// exponential backoff and jitter. A controller that refuses this agent's token (401) is not away:
// that is a setup error, logged as one, and retried at the backoff's cap in case the operator fixes
// the controller's side.
import WebSocket from 'ws';
import { isXlaneError } from '../errors.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { SnapshotMessage, UpdateMessage } from './grant-book.js';
import type { AgentLog } from './log.js';

/** false: the grants were not all applied, so the version is not acknowledged (the connection stays:
 * the next update or snapshot is applied from the whole book again). */
type Applied = Promise<boolean> | boolean;

export interface WatchHandlers {
  /** Runs before every connection attempt (registration); a throw counts as a failed attempt. */
  beforeConnect?(): Promise<void>;
  onSnapshot(msg: SnapshotMessage): Applied;
  onUpdate(msg: UpdateMessage): Applied;
  onConnected?(connected: boolean): void;
}

export interface WatchClientOptions {
  /** ws:// URL of /v1/watch?host=H. */
  url: string;
  host: string;
  headers?: Record<string, string>;
  /** The version the agent holds, sent in hello. */
  lastVersion(): number;
  backoff?: BackoffOptions;
  /** No message or ping for this long → the connection is presumed dead (controller pings every 15 s). */
  idleTimeoutMs?: number;
  log: AgentLog;
}

type ServerMessage =
  | SnapshotMessage
  | UpdateMessage
  | { type: 'error'; code: string; message: string }
  | { type: string };

export class WatchClient {
  private ws: WebSocket | undefined;
  private closed = false;
  private isConnected = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  /** Messages are applied strictly in order, one at a time. */
  private chain: Promise<void> = Promise.resolve();
  /** One warning per outage: a controller down for an hour must not flood the log. */
  private outageLogged = false;
  /** Same for a refused token, and the last attempt was refused (the close that follows retries slowly). */
  private unauthorizedLogged = false;
  private unauthorized = false;
  private acked = 0;

  constructor(
    private readonly opts: WatchClientOptions,
    private readonly handlers: WatchHandlers,
  ) {
    this.backoff = new Backoff(opts.backoff);
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** The version this client acknowledged last (0: none yet). */
  get ackedVersion(): number {
    return this.acked;
  }

  start(): void {
    void this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.terminate();
      });
    }
    await this.chain.catch(() => {});
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      await this.handlers.beforeConnect?.();
    } catch (err) {
      if (isXlaneError(err) && err.code === 'XL_ERR_UNAUTHORIZED') this.retryUnauthorized(err.message);
      else this.retry(`registration failed: ${(err as Error).message}`);
      return;
    }
    if (this.closed) return;
    const ws = new WebSocket(this.opts.url, { headers: this.opts.headers ?? {} });
    this.ws = ws;
    ws.on('open', () => {
      this.touch(ws);
      ws.send(JSON.stringify({ type: 'hello', host: this.opts.host, version: this.opts.lastVersion() }));
    });
    ws.on('ping', () => this.touch(ws));
    ws.on('message', (data, isBinary) => {
      this.touch(ws);
      if (isBinary) return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(data.toString()) as ServerMessage;
      } catch {
        this.opts.log.warn({}, 'watch: ignoring a message that is not JSON');
        return;
      }
      this.chain = this.chain.then(() => this.handle(ws, msg));
    });
    ws.on('unexpected-response', (req, res) => {
      req.destroy();
      if (res.statusCode === 401) this.unauthorized = true;
      else this.opts.log.warn({ status: res.statusCode }, 'watch: the controller refused the connection');
      ws.terminate();
    });
    ws.on('error', () => {
      // 'close' follows and schedules the retry; the error itself is reported there.
    });
    ws.on('close', () => {
      if (this.ws !== ws) return;
      clearTimeout(this.idleTimer);
      this.setConnected(false);
      if (this.unauthorized) {
        this.unauthorized = false;
        this.retryUnauthorized('the watch stream needs a token');
      } else this.retry('watch connection closed');
    });
  }

  private async handle(ws: WebSocket, msg: ServerMessage): Promise<void> {
    if (ws !== this.ws || this.closed) return;
    try {
      if (msg.type === 'snapshot') {
        const applied = await this.handlers.onSnapshot(msg as SnapshotMessage);
        if (applied) this.ack(ws, (msg as SnapshotMessage).version);
        // In sync with the stream even when not all of it applied: reconnecting would bring the same.
        this.backoff.reset();
        this.outageLogged = false;
        this.unauthorizedLogged = false;
        this.setConnected(true);
      } else if (msg.type === 'update') {
        const applied = await this.handlers.onUpdate(msg as UpdateMessage);
        if (applied) this.ack(ws, (msg as UpdateMessage).version);
      } else if (msg.type === 'error') {
        const e = msg as { code: string; message: string };
        this.opts.log.warn({ code: e.code }, `watch: the controller reported: ${e.message}`);
      }
    } catch (err) {
      // Not acknowledging is the safe answer to a change we could not apply; a fresh connection
      // brings a full snapshot to try again from.
      this.opts.log.error({ err: (err as Error).message, type: msg.type }, 'watch: could not apply grants');
      ws.terminate();
    }
  }

  private ack(ws: WebSocket, version: number): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify({ type: 'ack', version }));
    this.acked = version;
  }

  private touch(ws: WebSocket): void {
    clearTimeout(this.idleTimer);
    const ms = this.opts.idleTimeoutMs ?? 45_000;
    this.idleTimer = setTimeout(() => {
      this.opts.log.warn({ idleMs: ms }, 'watch: no word from the controller, reconnecting');
      ws.terminate();
    }, ms);
    this.idleTimer.unref();
  }

  private setConnected(c: boolean): void {
    if (c === this.isConnected) return;
    this.isConnected = c;
    this.handlers.onConnected?.(c);
  }

  private retryUnauthorized(why: string): void {
    if (this.closed) return;
    const delay = this.backoff.atCap();
    if (!this.unauthorizedLogged) {
      this.unauthorizedLogged = true;
      this.opts.log.error(
        { code: 'XL_ERR_UNAUTHORIZED', retryMs: delay },
        `the controller refused this agent's token (${why}): start the agent with the controller's token (--token or XLANE_TOKEN); retrying slowly meanwhile`,
      );
    }
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private retry(reason: string): void {
    if (this.closed) return;
    const delay = this.backoff.next();
    if (!this.outageLogged) {
      this.outageLogged = true;
      this.opts.log.warn({ retryMs: delay }, `${reason}; lanes keep their last grants, reconnecting`);
    }
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }
}
