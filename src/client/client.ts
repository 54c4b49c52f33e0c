// The application's handle on xlane: opens lanes (as their sender) and listens on lanes (as a
// receiver), through whichever transport connect() chose. Lanes are tracked so that events and
// deliveries reach the right Lane, and so close()/destroy() end them all.
import { EventEmitter } from 'node:events';
import type { LocalLane } from '../agent/local-api/backend.js';
import type { LaneRequest } from '../alloc/types.js';
import { XlaneError } from '../errors.js';
import { FailureDetector, type FailureDetectorOptions } from './failure-detector.js';
import { Lane, type LaneOptions } from './lane.js';
import type { ClientTransport } from './transport.js';

export interface OpenLaneOptions extends Omit<LaneRequest, 'sender' | 'receivers'>, LaneOptions {
  /** Receiver host (unicast) or hosts (one-to-many). */
  to: string | string[];
  /** Wait up to this long for the lane to go live before resolving (default 10 s; 0: do not wait). */
  waitLiveMs?: number;
}

export interface ClientEvents {
  /** The connection to the agent is gone (lanes were ended with this error). */
  disconnect: [err: XlaneError | undefined];
}

export class Client extends EventEmitter<ClientEvents> {
  private readonly lanes = new Map<number, Lane>();
  private readonly detectors = new Set<FailureDetector>();
  private isClosed = false;

  /** @internal use connect() */
  constructor(private readonly transport: ClientTransport) {
    super();
    transport.bind({
      delivery: (key, d) => this.lanes.get(key)?.deliver(d),
      event: (key, e) => this.lanes.get(key)?.event(e),
      refused: (key, err) => this.lanes.get(key)?.refused(err),
      gone: (err) => {
        this.isClosed = true;
        for (const lane of [...this.lanes.values()]) lane.end(err ? err.message : 'client closed', err);
        for (const fd of [...this.detectors]) fd.end(err ? err.message : 'client closed', err);
        this.emit('disconnect', err);
      },
    });
  }

  get mode(): 'socket' | 'embedded' {
    return this.transport.mode;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  async openLane(opts: OpenLaneOptions): Promise<Lane> {
    this.usable();
    const { to, waitLiveMs, highWaterMark, ...rest } = opts;
    const receivers = receiversOf(to);
    const { key, lane } = await this.transport.open({ ...rest, receivers }, waitLiveMs ?? 10_000);
    return this.track(key, lane, 'sender', { highWaterMark });
  }

  /** Receives an existing lane whose receiver is this host, by lane id ("L3") or name. Listening
   * again on a lane this client already listens on gives the same Lane (with its first options):
   * the agent hands one connection one handle per lane, and a second Lane on it would leave the
   * first one's iterators waiting forever. */
  async listen(laneIdOrName: string, opts: LaneOptions = {}): Promise<Lane> {
    this.usable();
    const { key, lane } = await this.transport.listen(laneIdOrName);
    const held = this.lanes.get(key);
    if (held?.role === 'receiver') return held;
    if (held)
      throw new XlaneError(
        'XL_ERR_DUPLICATE',
        `lane ${lane.laneId} was opened by this client as its sender: listen from another client`,
        { lane: lane.laneId },
      );
    return this.track(key, lane, 'receiver', opts);
  }

  /** Follows a failure-detector group the agent runs (`xlane agent --fd GROUP=…`): member states
   * and their changes (up / suspect / down). XL_ERR_NOT_FOUND for a group the agent does not run. */
  async failureDetector(group: string, opts: FailureDetectorOptions = {}): Promise<FailureDetector> {
    this.usable();
    const fd = new FailureDetector(this.transport, group, (f) => this.detectors.delete(f), opts);
    await this.transport.subscribeGroup(group, fd.sink);
    this.detectors.add(fd);
    if (this.isClosed) fd.end('client closed');
    return fd;
  }

  /** Lanes currently held. */
  get openLanes(): Lane[] {
    return [...this.lanes.values()];
  }

  /** Graceful: releases every lane, then disconnects. Embedded, it rejects when lanes are left that
   * the controller did not answer for (details.lanes; see EmbeddedOptions.releaseTimeoutMs): the
   * client is closed all the same. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    // The transport closes every lane it holds, within its own time limit (an embedded client's
    // releaseTimeoutMs): the lanes end here at once.
    for (const lane of [...this.lanes.values()]) lane.end('closed by the application');
    for (const fd of [...this.detectors]) fd.end('client closed');
    await this.transport.close();
  }

  /** Immediate: ends every lane now (iterators reject with `err` if given) and drops the connection. */
  destroy(err?: Error): void {
    if (this.isClosed && this.lanes.size === 0) return;
    this.isClosed = true;
    for (const lane of [...this.lanes.values()]) lane.end('client destroyed', err, true);
    for (const fd of [...this.detectors]) fd.end('client destroyed', err);
    this.transport.destroy(err instanceof XlaneError ? err : undefined);
  }

  private track(key: number, local: LocalLane, role: 'sender' | 'receiver', opts: LaneOptions): Lane {
    const lane = new Lane(this.transport, key, local, role, (k) => this.lanes.delete(k), opts);
    this.lanes.set(key, lane);
    return lane;
  }

  private usable(): void {
    if (this.isClosed) throw new XlaneError('XL_ERR_CONNECT', 'the client is closed');
  }
}

/** Checked here: the controller would refuse a missing `to` in terms of its own request body
 * (`body/receivers/0 must NOT have fewer than 1 characters`), not of this call's options. */
function receiversOf(to: unknown): string[] {
  const receivers = Array.isArray(to) ? to : [to];
  if (receivers.length === 0 || !receivers.every((r) => typeof r === 'string' && r.trim() !== ''))
    throw new XlaneError('XL_ERR_VALIDATION', '`to` is required (a host or a list of hosts)');
  return receivers;
}
