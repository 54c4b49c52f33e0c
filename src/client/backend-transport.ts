// A Client transport over an in-process LocalBackend: the embedded mode (no socket, no copy on the
// send path) and the unit tests' fake backend both plug in here.
import type { LocalBackend } from '../agent/local-api/backend.js';
import type { SendOutcome } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import type {
  ClientLaneCounters,
  ClientTransport,
  GroupSink,
  LaneOpenRequest,
  OpenedLane,
  TransportSink,
} from './transport.js';

interface Entry {
  laneId: string;
  opened: boolean;
  unsubscribe: () => void;
}

export class BackendTransport implements ClientTransport {
  readonly mode = 'embedded' as const;
  private sink: TransportSink | undefined;
  private readonly lanes = new Map<number, Entry>();
  private nextKey = 1;
  private readonly groups = new Map<number, () => void>();
  private nextSub = 1;
  private isGone = false;

  constructor(
    private readonly backend: LocalBackend,
    /** Stops what the backend runs (engine, controller watch); called once on close (graceful) or
     * destroy. What it throws on close, close() throws: the lanes it could not release. On close it
     * is given the instant (Date.now() ms) by which close() should have ended, if there is one. */
    private readonly shutdown: (graceful: boolean, deadline?: number) => Promise<void> = async () => {},
    /** How long close() waits for the lanes' closes before it shuts the backend down anyway (which
     * then knows which are unanswered); default: as long as they take. */
    private readonly closeWithinMs?: number,
  ) {}

  bind(sink: TransportSink): void {
    this.sink = sink;
  }

  async open(request: LaneOpenRequest, waitLiveMs?: number): Promise<OpenedLane> {
    this.live();
    const lane = await this.backend.openLane(request, waitLiveMs !== undefined ? { waitLiveMs } : undefined);
    return { key: this.track(lane.laneId, true), lane };
  }

  async listen(laneIdOrName: string): Promise<OpenedLane> {
    this.live();
    const lane = await this.backend.listen(laneIdOrName);
    return { key: this.track(lane.laneId, false), lane };
  }

  async closeLane(key: number): Promise<void> {
    const e = this.entry(key);
    this.forget(key, e);
    if (e.opened) await this.backend.closeLane(e.laneId);
  }

  send(key: number, payload: Uint8Array): SendOutcome {
    const e = this.entry(key);
    if (!e.opened)
      throw new XlaneError('XL_ERR_FORBIDDEN', `lane ${e.laneId} is listened on, not opened, here`);
    return this.backend.send(e.laneId, payload);
  }

  async sendAcked(key: number, payload: Uint8Array): Promise<SendOutcome> {
    return this.send(key, payload);
  }

  async counters(key: number): Promise<ClientLaneCounters> {
    const e = this.entry(key);
    const c = this.backend.counters(e.laneId);
    if (!c) throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no counters for lane ${e.laneId}`);
    return c;
  }

  async subscribeGroup(group: string, sink: GroupSink): Promise<number> {
    this.live();
    if (!this.backend.subscribeGroup) {
      throw new XlaneError('XL_ERR_NOT_FOUND', 'no failure detector runs here (embedded: pass fd groups)', {
        group,
      });
    }
    const sub = this.nextSub++;
    // The backend calls back only later (from the engine's events), so start() comes first.
    const s = this.backend.subscribeGroup(group, (e) => sink.event(e));
    this.groups.set(sub, s.unsubscribe);
    sink.start(sub, s.members);
    return sub;
  }

  async unsubscribeGroup(sub: number): Promise<void> {
    this.groups.get(sub)?.();
    this.groups.delete(sub);
  }

  async close(): Promise<void> {
    if (this.isGone) return;
    const deadline = this.closeWithinMs === undefined ? undefined : Date.now() + this.closeWithinMs;
    const closes = Promise.allSettled([...this.lanes.keys()].map((k) => this.closeLane(k)));
    if (deadline === undefined) await closes;
    else {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closes, new Promise((r) => (timer = setTimeout(r, deadline - Date.now())))]);
      clearTimeout(timer);
    }
    await this.end(undefined, true, deadline);
  }

  destroy(err?: XlaneError): void {
    if (this.isGone) return;
    // Immediate for the caller; the backend still releases the lanes at the controller.
    const opened = [...this.lanes.values()];
    this.lanes.clear();
    this.dropGroups();
    for (const e of opened) e.unsubscribe();
    void Promise.allSettled(opened.filter((e) => e.opened).map((e) => this.backend.closeLane(e.laneId))).then(
      () => this.end(err),
    );
    this.isGone = true;
    this.sink?.gone(err);
  }

  private async end(err?: XlaneError, graceful = false, deadline?: number): Promise<void> {
    const first = !this.isGone;
    this.dropGroups();
    this.isGone = true;
    let failure: unknown;
    try {
      await this.shutdown(graceful, deadline);
    } catch (e) {
      failure = e;
    }
    if (first) this.sink?.gone(err);
    // destroy() has nobody to tell: it returned long ago.
    if (graceful && failure !== undefined) throw failure;
  }

  private dropGroups(): void {
    for (const unsubscribe of this.groups.values()) unsubscribe();
    this.groups.clear();
  }

  private track(laneId: string, opened: boolean): number {
    const key = this.nextKey++;
    const entry: Entry = { laneId, opened, unsubscribe: () => {} };
    entry.unsubscribe = this.backend.subscribe(laneId, {
      onDelivery: (d) => this.sink?.delivery(key, d),
      onEvent: (e) => {
        this.sink?.event(key, e);
        // Closed at the controller: the Lane has ended on this event and will not close it, so the
        // entry and the backend's subscriber would otherwise stay until the client closes.
        if (e.type === 'closed') this.forget(key, entry);
      },
    });
    this.lanes.set(key, entry);
    return key;
  }

  private forget(key: number, entry: Entry): void {
    if (this.lanes.get(key) !== entry) return;
    this.lanes.delete(key);
    entry.unsubscribe();
  }

  private entry(key: number): Entry {
    const e = this.lanes.get(key);
    if (!e) throw new XlaneError('XL_ERR_FORBIDDEN', `lane key ${key} is not held by this client`);
    return e;
  }

  private live(): void {
    if (this.isGone) throw new XlaneError('XL_ERR_CONNECT', 'the client is closed');
  }
}
