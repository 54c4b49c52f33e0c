// A LocalBackend in memory, for the local API and client tests: lanes get plausible grants, sends
// are recorded (and contract-checked like an engine would), and the test drives deliveries and
// grant changes by hand.
import type {
  LaneEvent,
  LocalBackend,
  LocalLane,
  LocalSubscriber,
} from '../../src/agent/local-api/backend.js';
import type { Grant, LaneRequest } from '../../src/alloc/types.js';
import { emptyLaneCounters } from '../../src/engine/counters.js';
import type { DeliveryView, LaneCounters, SendOutcome } from '../../src/engine/types.js';
import { XlaneError } from '../../src/errors.js';

export const HOST = 'h1';

export function makeGrant(laneId: string, sender: string, req: Omit<LaneRequest, 'sender'>): Grant {
  return {
    laneId,
    ...(req.name !== undefined ? { name: req.name } : {}),
    epoch: 1,
    sender,
    maxPayloadBytes: req.maxPayloadBytes,
    minPeriodNs: req.minPeriodNs,
    policy: req.policy ?? 'reject',
    dscp: 46,
    priority: 6,
    srcPort: 40000 + Number(laneId.slice(1)),
    dstPort: 7400,
    wireBytes: req.maxPayloadBytes + 120,
    rateBps: 1e6,
    tree: [],
    receivers: req.receivers.map((host) => ({
      host,
      path: [sender, 's1', host],
      lambdaMinNs: 10_000,
      lambdaMaxNs: 120_000,
      jitterNs: 110_000,
    })),
  };
}

export class FakeBackend implements LocalBackend {
  readonly lanes = new Map<
    string,
    { grant: Grant; state: 'pending' | 'live'; counters: LaneCounters; lastSendNs?: bigint }
  >();
  readonly sent: { laneId: string; payload: Uint8Array }[] = [];
  readonly closedLanes: string[] = [];
  readonly subs = new Map<string, Set<LocalSubscriber>>();
  private next = 1;
  /** New lanes start in this state. */
  initialState: 'pending' | 'live' = 'live';
  /** Enforce π_min between sends (as an engine with policy 'reject' does). */
  enforceRate = false;

  async openLane(request: Omit<LaneRequest, 'sender'>): Promise<LocalLane> {
    if (request.receivers.includes('nowhere')) {
      throw new XlaneError('XL_ERR_UNKNOWN_HOST', 'no host nowhere in the topology');
    }
    return this.add(makeGrant(`L${this.next++}`, HOST, request), this.initialState);
  }

  /** A lane some other host sends to us on. */
  addRemote(name: string): LocalLane {
    return this.add(
      makeGrant(`L${this.next++}`, 'h2', {
        name,
        receivers: [HOST],
        maxPayloadBytes: 64,
        minPeriodNs: 100_000,
      }),
      'live',
    );
  }

  async listen(ref: string): Promise<LocalLane> {
    for (const l of this.lanes.values()) {
      if (l.grant.laneId === ref || l.grant.name === ref)
        return { laneId: l.grant.laneId, grant: l.grant, state: l.state };
    }
    throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no lane ${ref}`);
  }

  async closeLane(laneId: string): Promise<void> {
    if (!this.lanes.delete(laneId)) throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no lane ${laneId}`);
    this.closedLanes.push(laneId);
    this.emit(laneId, { type: 'closed', laneId, reason: 'closed' });
  }

  send(laneId: string, payload: Uint8Array): SendOutcome {
    const l = this.lanes.get(laneId);
    if (!l) throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no lane ${laneId}`);
    if (payload.length > l.grant.maxPayloadBytes) throw new XlaneError('XL_ERR_CONTRACT_SIZE', 'too big');
    const now = process.hrtime.bigint();
    if (this.enforceRate && l.lastSendNs !== undefined && now - l.lastSendNs < BigInt(l.grant.minPeriodNs)) {
      l.counters.refused++;
      throw new XlaneError('XL_ERR_CONTRACT_RATE', 'sooner than π_min');
    }
    l.lastSendNs = now;
    l.counters.sent++;
    this.sent.push({ laneId, payload: Uint8Array.prototype.slice.call(payload) });
    return 'queued';
  }

  counters(laneId: string): LaneCounters | undefined {
    return this.lanes.get(laneId)?.counters;
  }

  subscribe(laneId: string, sub: LocalSubscriber): () => void {
    const set = this.subs.get(laneId) ?? new Set();
    this.subs.set(laneId, set);
    set.add(sub);
    return () => set.delete(sub);
  }

  subscribers(laneId: string): number {
    return this.subs.get(laneId)?.size ?? 0;
  }

  /** Delivers a message the way an engine does: one reused view. */
  private readonly view: DeliveryView = {
    laneId: '',
    seq: 0,
    sentNs: 0,
    receivedNs: 0,
    payload: new Uint8Array(),
    heartbeat: -1,
  };
  /** `kernelReceivedNs` undefined: a view without the field, as an engine without kernel stamps. */
  deliver(
    laneId: string,
    seq: number,
    sentNs: number,
    receivedNs: number,
    payload: Uint8Array,
    kernelReceivedNs?: number,
  ): void {
    Object.assign(this.view, { laneId, seq, sentNs, receivedNs, payload });
    if (kernelReceivedNs === undefined) delete this.view.kernelReceivedNs;
    else this.view.kernelReceivedNs = kernelReceivedNs;
    for (const s of this.subs.get(laneId) ?? []) s.onDelivery(this.view);
    this.view.payload.fill(0); // a reused buffer: readers must have copied
  }

  changeGrant(laneId: string, patch: Partial<Grant>, state?: 'pending' | 'live'): Grant {
    const l = this.lanes.get(laneId)!;
    l.grant = { ...l.grant, ...patch, epoch: l.grant.epoch + 1 };
    if (state) l.state = state;
    this.emit(laneId, { type: 'grant', laneId, grant: l.grant, state: l.state });
    return l.grant;
  }

  private emit(laneId: string, e: LaneEvent): void {
    for (const s of [...(this.subs.get(laneId) ?? [])]) s.onEvent(e);
  }

  private add(grant: Grant, state: 'pending' | 'live'): LocalLane {
    this.lanes.set(grant.laneId, {
      grant,
      state,
      counters: emptyLaneCounters(grant.laneId),
    });
    return { laneId: grant.laneId, grant, state };
  }
}
