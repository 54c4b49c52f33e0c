// Follows this host's grants over the controller's watch WebSocket (protocol: docs/api.md).
// Every connection starts with `beforeConnect` (registration) and a hello; the controller answers
// a full snapshot, so a reconnect is a resync. Each snapshot and update is handed to the daemon
// and ACKed only once the daemon resolved it, and not when it resolved false (some grant could not
// be applied): an ACK means "this host obeys these grants".
// When the controller goes away nothing is torn down; the client just keeps trying, with capped
// exponential backoff and jitter. A controller that refuses this agent's token (401) is not away:
// that is a setup error, logged as one, and retried at the backoff's cap in case the operator fixes
// the controller's side. Nor is one that does not serve this agent's control protocol
// (XL_ERR_VERSION, at registration or as close code 4426): logged as an error naming the side to
// upgrade, and retried with the usual backoff, so that the agent gets in once the controller is
// upgraded.
import WebSocket from 'ws';
import type { Hop, ReceiverGuarantee } from '../alloc/types.js';
import { CONTROL_PROTOCOL, PACKAGE_VERSION, WATCH_CLOSE_VERSION } from '../control-protocol.js';
import type { WireGrant } from '../controller/views.js';
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
  /** The refusal of this agent's protocol last logged (again only when it says something else). */
  private versionLogged: string | undefined;
  /** The controller's XL_ERR_VERSION on this socket: the close that follows says less. */
  private versionRefusal: string | undefined;
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
      else if (isXlaneError(err) && err.code === 'XL_ERR_VERSION') this.retryVersion(err.message);
      else this.retry(`registration failed: ${(err as Error).message}`);
      return;
    }
    if (this.closed) return;
    const ws = new WebSocket(this.opts.url, { headers: this.opts.headers ?? {} });
    this.ws = ws;
    this.versionRefusal = undefined;
    ws.on('open', () => {
      this.touch(ws);
      ws.send(
        JSON.stringify({
          type: 'hello',
          host: this.opts.host,
          version: this.opts.lastVersion(),
          agentVersion: PACKAGE_VERSION,
          protocol: CONTROL_PROTOCOL,
        }),
      );
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
      // Taken at once, not in the chain: the close it precedes may come first.
      if (msg.type === 'error' && (msg as { code?: unknown }).code === 'XL_ERR_VERSION') {
        this.versionRefusal = String((msg as { message?: unknown }).message);
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
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      clearTimeout(this.idleTimer);
      this.setConnected(false);
      if (this.unauthorized) {
        this.unauthorized = false;
        this.retryUnauthorized('the watch stream needs a token');
      } else if (code === WATCH_CLOSE_VERSION) this.retryVersion(this.versionRefusal ?? reason.toString());
      else this.retry('watch connection closed');
    });
  }

  private async handle(ws: WebSocket, msg: ServerMessage): Promise<void> {
    if (ws !== this.ws || this.closed) return;
    try {
      if (msg.type === 'snapshot') {
        const snapshot = msg as SnapshotMessage;
        const applied = await this.handlers.onSnapshot({ ...snapshot, grants: knownGrants(snapshot.grants) });
        if (applied) this.ack(ws, snapshot.version);
        // In sync with the stream even when not all of it applied: reconnecting would bring the same.
        this.backoff.reset();
        this.outageLogged = false;
        this.unauthorizedLogged = false;
        this.versionLogged = undefined;
        this.setConnected(true);
      } else if (msg.type === 'update') {
        const update = msg as UpdateMessage;
        const applied = await this.handlers.onUpdate({ ...update, grants: knownGrants(update.grants) });
        if (applied) this.ack(ws, update.version);
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
        `the controller refused this agent's token (${why}): start the agent with the controller's token (--token, --token-file, XLANE_TOKEN or XLANE_TOKEN_FILE); retrying slowly meanwhile`,
      );
    }
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private retryVersion(refusal: string): void {
    if (this.closed) return;
    const delay = this.backoff.next();
    if (this.versionLogged !== refusal) {
      this.versionLogged = refusal;
      this.opts.log.error(
        { code: 'XL_ERR_VERSION', agentVersion: PACKAGE_VERSION, protocol: CONTROL_PROTOCOL, retryMs: delay },
        `the controller does not serve this agent's control protocol: ${refusal}; lanes keep their last grants, retrying until it does`,
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

// The grant fields this agent acts on. A newer controller may send more (the compatibility rule of
// src/control-protocol.ts): they are dropped here, so the book, the engine, the change events and
// local applications see what this release understands, and a field it ignores cannot make a grant
// look changed. Typed as a Record of every key, so a field added to WireGrant is a compile error
// until it is listed.
const GRANT_FIELDS: Record<keyof WireGrant, true> = {
  laneId: true,
  name: true,
  epoch: true,
  sender: true,
  maxPayloadBytes: true,
  minPeriodNs: true,
  phaseNs: true,
  releaseJitterNs: true,
  policy: true,
  dscp: true,
  priority: true,
  srcPort: true,
  dstPort: true,
  wireBytes: true,
  rateBps: true,
  tree: true,
  receivers: true,
  state: true,
  senderClockDomain: true,
};
const RECEIVER_FIELDS: Record<keyof ReceiverGuarantee, true> = {
  host: true,
  path: true,
  lambdaMinNs: true,
  lambdaMaxNs: true,
  jitterNs: true,
};
const HOP_FIELDS: Record<keyof Hop, true> = { from: true, to: true };

/** `value` with only `fields`; anything but an object is left for the daemon to refuse. */
function known<T>(value: T, fields: Record<keyof T, true>): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Partial<T> = {};
  for (const k of Object.keys(fields) as (keyof T)[]) if (Object.hasOwn(value, k)) out[k] = value[k];
  return out as T;
}

function knownGrants(grants: WireGrant[]): WireGrant[] {
  if (!Array.isArray(grants)) return grants;
  return grants.map((g) => {
    const out = known(g, GRANT_FIELDS);
    if (out === g) return g;
    if (Array.isArray(g.receivers)) out.receivers = g.receivers.map((r) => known(r, RECEIVER_FIELDS));
    if (Array.isArray(g.tree)) out.tree = g.tree.map((h) => known(h, HOP_FIELDS));
    return out;
  });
}
