// Grant → engine configuration, as pure functions: what the engine should hold for this host
// (desiredLaneSpecs), and the smallest list of engine calls that gets it there from what it holds
// now (diffLaneSpecs). The daemon applies the ops; tests check the two functions directly.
import type { WireGrant } from '../controller/views.js';
import { monotonicPhaseNs } from '../engine/schedule.js';
import { laneWireId, type ReceiverSpec, type SenderSpec } from '../engine/types.js';
import type { ErrorCode } from '../errors.js';
import { sharesClock } from './clock-domain.js';
import type { PeerMap } from './peers.js';

export interface LaneSpecs {
  senders: Map<string, SenderSpec>;
  receivers: Map<string, ReceiverSpec>;
}

/** A lane this host is part of but cannot configure (e.g. a peer without a known address). */
export interface LaneSpecError {
  laneId: string;
  role: 'sender' | 'receiver';
  message: string;
  /** The error's code when known: a configuration gap is XL_ERR_VALIDATION, an engine's refusal
   * keeps the code it threw with. */
  code?: ErrorCode;
}

export interface SpecContext {
  host: string;
  peers: PeerMap;
  /** UDP port agents receive on; used when a grant carries no dstPort. */
  expressPort: number;
  /** Lanes whose engine sends or watches heartbeats (the failure detector's, src/fd). */
  heartbeats?: HeartbeatPlan;
  /** This host's CLOCK_REALTIME − CLOCK_MONOTONIC (engine/clock.ts RealtimeOffset): turns a
   * grant's phase into the engine's. Without it senders get no phase. */
  realtimeOffsetNs?: () => bigint;
  /** This host's clock domain (clock-domain.ts); a receiver spec says whether its sender shares it. */
  clockDomain?: string;
}

/** Per grant: the heartbeat part of its sender / receiver spec, or undefined for a plain lane. */
export interface HeartbeatPlan {
  sender(g: WireGrant): SenderSpec['heartbeat'];
  receiver(g: WireGrant): ReceiverSpec['heartbeat'];
}

export type EngineOp =
  | { op: 'removeSender'; laneId: string }
  | { op: 'removeReceiver'; laneId: string }
  | { op: 'setReceiver'; spec: ReceiverSpec }
  | { op: 'setSender'; spec: SenderSpec };

export const emptySpecs = (): LaneSpecs => ({ senders: new Map(), receivers: new Map() });

/**
 * Receivers are configured for pending lanes too: the safe change order waits for them precisely
 * so that they accept the lane's first frame. Senders only once the lane is live: a pending lane
 * must not send, and an engine without the sender cannot. A lane that cannot be configured is left
 * out (fail closed: a sender that cannot follow its grant stops sending) and reported.
 */
export function desiredLaneSpecs(
  grants: Iterable<WireGrant>,
  ctx: SpecContext,
): { specs: LaneSpecs; errors: LaneSpecError[] } {
  const specs = emptySpecs();
  const errors: LaneSpecError[] = [];
  let offset: bigint | undefined;
  for (const g of grants) {
    let wireId: number;
    try {
      wireId = laneWireId(g.laneId);
    } catch {
      errors.push({
        laneId: g.laneId,
        role: g.sender === ctx.host ? 'sender' : 'receiver',
        message: 'not a lane id',
        code: 'XL_ERR_VALIDATION',
      });
      continue;
    }
    if (g.sender === ctx.host && g.state === 'live') {
      const missing = g.receivers.map((r) => r.host).filter((h) => !ctx.peers.has(h));
      if (missing.length > 0) {
        errors.push({
          laneId: g.laneId,
          role: 'sender',
          message: `no address for receiver(s) ${missing.join(', ')}`,
          code: 'XL_ERR_VALIDATION',
        });
      } else {
        if (offset === undefined && phased(g)) offset = ctx.realtimeOffsetNs?.();
        specs.senders.set(g.laneId, {
          laneId: g.laneId,
          wireId,
          epoch: g.epoch,
          maxPayloadBytes: g.maxPayloadBytes,
          minPeriodNs: g.minPeriodNs,
          ...(g.releaseJitterNs ? { releaseJitterNs: g.releaseJitterNs } : {}),
          ...(phased(g) && offset !== undefined
            ? { phaseNs: monotonicPhaseNs(g.phaseNs, g.minPeriodNs, offset) }
            : {}),
          policy: g.policy,
          dscp: g.dscp,
          priority: g.priority,
          srcPort: g.srcPort,
          destinations: g.receivers.map((r) => ({
            host: r.host,
            address: ctx.peers.get(r.host)!,
            port: g.dstPort || ctx.expressPort,
          })),
          ...withHeartbeat(ctx.heartbeats?.sender(g)),
        });
      }
    }
    const mine = g.receivers.find((r) => r.host === ctx.host);
    if (mine) {
      const senderAddress = ctx.peers.get(g.sender);
      if (senderAddress === undefined) {
        errors.push({
          laneId: g.laneId,
          role: 'receiver',
          message: `no address for sender ${g.sender}`,
          code: 'XL_ERR_VALIDATION',
        });
      } else {
        specs.receivers.set(g.laneId, {
          laneId: g.laneId,
          wireId,
          epoch: g.epoch,
          senderAddress,
          maxPayloadBytes: g.maxPayloadBytes,
          lambdaMinNs: mine.lambdaMinNs,
          lambdaMaxNs: mine.lambdaMaxNs,
          // Only when false: a spec that says nothing is the engines' default, a shared clock.
          ...(sharesClock(ctx.clockDomain, g.senderClockDomain) ? {} : { sharedClock: false }),
          ...withHeartbeat(ctx.heartbeats?.receiver(g)),
        });
      }
    }
  }
  return { specs, errors };
}

/** Removals first (a lane that left frees its resources before others change), then receivers
 * before senders, so a host that is both is ready to take a lane before it sends on another. */
export function diffLaneSpecs(desired: LaneSpecs, current: LaneSpecs): EngineOp[] {
  const ops: EngineOp[] = [];
  for (const id of current.senders.keys())
    if (!desired.senders.has(id)) ops.push({ op: 'removeSender', laneId: id });
  for (const id of current.receivers.keys())
    if (!desired.receivers.has(id)) ops.push({ op: 'removeReceiver', laneId: id });
  for (const [id, spec] of desired.receivers)
    if (!sameSpec(current.receivers.get(id), spec)) ops.push({ op: 'setReceiver', spec });
  for (const [id, spec] of desired.senders)
    if (!sameSpec(current.senders.get(id), spec)) ops.push({ op: 'setSender', spec });
  return ops;
}

/** A phase is used only with a release jitter E > 0 (engine/schedule.ts effectivePhaseNs): without
 * one, the engine would ignore it, and leaving it out keeps the spec from changing with the clock. */
function phased(g: WireGrant): g is WireGrant & { phaseNs: number } {
  return (
    g.phaseNs !== undefined &&
    (g.releaseJitterNs ?? 0) > 0 &&
    Number.isInteger(g.phaseNs) &&
    Number.isInteger(g.minPeriodNs) &&
    g.phaseNs >= 0 &&
    g.phaseNs < g.minPeriodNs
  );
}

function withHeartbeat<T>(heartbeat: T | undefined): { heartbeat?: T } {
  return heartbeat === undefined ? {} : { heartbeat };
}

function sameSpec(a: object | undefined, b: object): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
