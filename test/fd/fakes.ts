// Fakes for the X-FD tests: an engine that records the specs it holds and lets a test raise
// liveness events the way the engine's watchdog does (one reused event object), a controller that
// records lane opens/closes, and grants shaped like the controller's.
import type { LaneRequest } from '../../src/alloc/types.js';
import type { WireGrant } from '../../src/controller/views.js';
import { emptyDropCounters } from '../../src/engine/counters.js';
import type {
  DeliveryHandler,
  Engine,
  EngineCounters,
  EngineOptions,
  LivenessEvent,
  LivenessHandler,
  ReceiverSpec,
  SenderSpec,
  SendOutcome,
} from '../../src/engine/types.js';
import { XlaneError } from '../../src/errors.js';
import type { FdController } from '../../src/fd/group-service.js';

export class FdFakeEngine implements Engine {
  readonly kind = 'js' as const;
  readonly senders = new Map<string, SenderSpec>();
  readonly receivers = new Map<string, ReceiverSpec>();
  readonly calls: string[] = [];
  private liveness: LivenessHandler | undefined;
  private readonly event: LivenessEvent = {
    laneId: '',
    state: 'alive',
    incarnation: -1,
    lastArrivalNs: 0,
    lastSentNs: 0,
    atNs: 0,
  };

  async start(_opts: EngineOptions): Promise<void> {}
  setSender(spec: SenderSpec): void {
    this.calls.push(`setSender ${spec.laneId}`);
    this.senders.set(spec.laneId, spec);
  }
  removeSender(laneId: string): void {
    this.calls.push(`removeSender ${laneId}`);
    this.senders.delete(laneId);
  }
  setReceiver(spec: ReceiverSpec): void {
    this.calls.push(`setReceiver ${spec.laneId}`);
    this.receivers.set(spec.laneId, spec);
  }
  removeReceiver(laneId: string): void {
    this.calls.push(`removeReceiver ${laneId}`);
    this.receivers.delete(laneId);
  }
  send(laneId: string): SendOutcome {
    throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no sender for ${laneId}`);
  }
  onDelivery(_handler: DeliveryHandler): void {}
  onLiveness(handler: LivenessHandler): void {
    this.liveness = handler;
  }
  get watching(): boolean {
    return this.liveness !== undefined;
  }
  /** Raises a liveness event through ONE reused object, as the real engines do. */
  raise(e: Omit<LivenessEvent, 'lastSentNs'> & { lastSentNs?: number }): void {
    Object.assign(this.event, { lastSentNs: e.lastArrivalNs > 0 ? e.lastArrivalNs - 10_000 : 0, ...e });
    this.liveness?.(this.event);
    this.event.laneId = 'reused';
    this.event.incarnation = -99;
  }
  counters(): EngineCounters {
    return { lanes: [], dropped: emptyDropCounters() };
  }
  async close(): Promise<void> {}
}

export class FakeFdController implements FdController {
  readonly opened: LaneRequest[] = [];
  readonly closed: string[] = [];
  /** The next openLane fails with this (once). */
  failNext: XlaneError | undefined;
  private next = 100;

  async openLane(request: LaneRequest): Promise<{ lane: { id: string } }> {
    const err = this.failNext;
    this.failNext = undefined;
    if (err) throw err;
    this.opened.push(request);
    return { lane: { id: `L${this.next++}` } };
  }

  async closeLane(laneId: string): Promise<unknown> {
    this.closed.push(laneId);
    return {};
  }
}

/** A grant of lane `laneId` from `sender` to `receivers`, each with the window [minNs, maxNs]. */
export function fdGrant(
  laneId: string,
  name: string | undefined,
  sender: string,
  receivers: string[],
  over: { periodNs?: number; minNs?: number; maxNs?: number; state?: 'pending' | 'live' } = {},
): WireGrant {
  const minNs = over.minNs ?? 10_000;
  const maxNs = over.maxNs ?? 60_000;
  return {
    laneId,
    ...(name !== undefined ? { name } : {}),
    epoch: 1,
    sender,
    maxPayloadBytes: 1,
    minPeriodNs: over.periodNs ?? 1_000_000,
    policy: 'coalesce',
    dscp: 46,
    priority: 6,
    srcPort: 20_000 + Number(laneId.slice(1)),
    dstPort: 7400,
    wireBytes: 121,
    rateBps: 968_000,
    tree: [],
    receivers: receivers.map((host) => ({
      host,
      path: [sender, 's1', host],
      lambdaMinNs: minNs,
      lambdaMaxNs: maxNs,
      jitterNs: maxNs - minNs,
    })),
    state: over.state ?? 'live',
  };
}

export const PEERS = new Map([
  ['h1', '10.0.0.1'],
  ['h2', '10.0.0.2'],
  ['h3', '10.0.0.3'],
]);

/** A clock the test moves by hand (ns). */
export function manualClock(startNs = 1e12): { now: () => number; advance(ns: number): number } {
  let t = startNs;
  return {
    now: () => t,
    advance: (ns) => {
      t += ns;
      return t;
    },
  };
}

/** Resolves once `cond` holds, checking after each turn of the event loop (no fixed sleeps). */
export async function until(cond: () => boolean, what: string, maxTurns = 5_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}
