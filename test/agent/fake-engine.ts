// A fake Engine for the agent's tests: holds the specs it was given, lets a test deliver messages
// and set counters, and enforces just enough of the contract (unknown lane) to be honest.

import { emptyLaneCounters } from '../../src/engine/counters.js';
import type {
  DeliveryHandler,
  DeliveryView,
  Engine,
  EngineCounters,
  EngineOptions,
  LaneCounters,
  LivenessHandler,
  ReceiverSpec,
  SenderSpec,
  SendOutcome,
} from '../../src/engine/types.js';
import { DROP_REASONS } from '../../src/engine/types.js';
import { XlaneError } from '../../src/errors.js';

export class FakeEngine implements Engine {
  readonly kind = 'js' as const;
  readonly senders = new Map<string, SenderSpec>();
  readonly receivers = new Map<string, ReceiverSpec>();
  readonly sent: { laneId: string; payload: Uint8Array }[] = [];
  readonly calls: string[] = [];
  started: EngineOptions | undefined;
  closed = false;
  /** setSender throws for these lanes (an engine refusing a spec). */
  readonly failSender = new Set<string>();
  lanes = new Map<string, LaneCounters>();
  dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as EngineCounters['dropped'];
  private handler: DeliveryHandler | undefined;
  livenessHandler: LivenessHandler | undefined;

  async start(opts: EngineOptions): Promise<void> {
    this.started = opts;
  }
  setSender(spec: SenderSpec): void {
    this.calls.push(`setSender ${spec.laneId}`);
    if (this.failSender.has(spec.laneId)) throw new Error(`engine refused ${spec.laneId}`);
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
  send(laneId: string, payload: Uint8Array): SendOutcome {
    if (!this.senders.has(laneId)) throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no sender for ${laneId}`);
    this.sent.push({ laneId, payload: payload.slice() });
    return 'queued';
  }
  onDelivery(handler: DeliveryHandler): void {
    this.handler = handler;
  }
  onLiveness(handler: LivenessHandler): void {
    this.livenessHandler = handler;
  }
  /** Simulates a received message. */
  deliver(d: DeliveryView): void {
    this.handler?.(d);
  }
  counters(): EngineCounters {
    return { lanes: [...this.lanes.values()], dropped: { ...this.dropped } };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

export function laneCounters(laneId: string, over: Partial<LaneCounters> = {}): LaneCounters {
  return { ...emptyLaneCounters(laneId), ...over };
}
