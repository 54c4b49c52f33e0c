// Turns a lane's internal record into the Grant the outside world sees, and decides (with
// hysteresis) whether an existing grant has to change after a new bound pass.
import { grantedLambdaMax, nextGrantedLambdaMax, type WindowPolicy } from './bounds.js';
import type { CompiledGraph } from './graph.js';
import type { FabricState, LaneRec } from './state.js';
import type { ChangeReason, Grant, GrantChange, Hop } from './types.js';
import { wireBytes } from './wire.js';

/** SO_PRIORITY of express sockets (maps to the highest-priority queue of the host qdisc). */
export const EXPRESS_SOCKET_PRIORITY = 6;

/** Node indices from the sender to receiver k, following the tree's parent links. */
export function pathOf(g: CompiledGraph, rec: LaneRec, k: number): number[] {
  const nodes: number[] = [];
  for (let i = rec.leafOf[k]!; i >= 0; i = rec.parents[i]!) nodes.push(g.portTo[rec.ports[i]!]!);
  nodes.push(rec.sender);
  return nodes.reverse();
}

/** λ_min of receiver k: depends on the path only (smallest frame, fastest forwarding). Floored to
 * whole ns so that rounding can never promise a lower bound the network does not keep. */
export function lambdaMinOf(g: CompiledGraph, rec: LaneRec, k: number): number {
  let t = g.sendMin[rec.sender]! + g.recvMin[rec.receivers[k]!]!;
  for (let i = rec.leafOf[k]!; i >= 0; i = rec.parents[i]!) t += g.staticMinNs[rec.ports[i]!]!;
  return Math.floor(t);
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The sender's E, capped at half the period: the entry jitter counted the host's full E, so a
 * smaller one stays within the lane's arrival curve, and the engine needs E < π. */
function releaseJitterOf(g: CompiledGraph, rec: LaneRec): { releaseJitterNs?: number } {
  const e = Math.min(g.releaseJitter[rec.sender]!, Math.floor(rec.pi / 2));
  return e > 0 ? { releaseJitterNs: e } : {};
}

/** deepFreeze for the one shape buildGrant makes, without walking every value: a squeeze re-issues
 * the grant of every lane on the port, thousands of them. */
function freezeGrant(grant: Grant): Grant {
  for (const hop of grant.tree) Object.freeze(hop);
  Object.freeze(grant.tree);
  for (const r of grant.receivers) {
    Object.freeze(r.path);
    Object.freeze(r);
  }
  Object.freeze(grant.receivers);
  return Object.freeze(grant);
}

export function buildGrant(g: CompiledGraph, rec: LaneRec, epoch: number): Grant {
  const names = g.nodeNames;
  const tree: Hop[] = rec.ports.map((p) => ({ from: names[g.portFrom[p]!]!, to: names[g.portTo[p]!]! }));
  const wire = wireBytes(rec.sigma);
  const grant: Grant = {
    laneId: rec.id,
    ...(rec.request.name !== undefined ? { name: rec.request.name } : {}),
    epoch,
    sender: names[rec.sender]!,
    maxPayloadBytes: rec.sigma,
    minPeriodNs: rec.pi,
    phaseNs: rec.phase % rec.pi,
    ...releaseJitterOf(g, rec),
    policy: rec.request.policy ?? 'reject',
    dscp: g.spec.expressDscp,
    priority: EXPRESS_SOCKET_PRIORITY,
    srcPort: rec.srcPort,
    dstPort: g.spec.expressPort,
    wireBytes: wire,
    rateBps: (wire * 8e9) / rec.pi,
    tree,
    receivers: rec.receivers.map((r, k) => ({
      host: names[r]!,
      path: pathOf(g, rec, k).map((i) => names[i]!),
      lambdaMinNs: rec.lambdaMin[k]!,
      lambdaMaxNs: rec.grantedMax[k]!,
      jitterNs: rec.grantedMax[k]! - rec.lambdaMin[k]!,
    })),
  };
  return freezeGrant(grant);
}

function treeMatches(g: CompiledGraph, rec: LaneRec, hops: Hop[]): boolean {
  if (hops.length !== rec.ports.length) return false;
  for (let i = 0; i < hops.length; i++) {
    const p = rec.ports[i]!;
    if (hops[i]!.from !== g.nodeNames[g.portFrom[p]!] || hops[i]!.to !== g.nodeNames[g.portTo[p]!])
      return false;
  }
  return true;
}

/** Sets the window of a lane that has none yet (a new lane), from the last pass. */
export function initWindow(s: FabricState, rec: LaneRec, policy: WindowPolicy): void {
  const deadline = Number.isFinite(rec.deadline) ? rec.deadline : undefined;
  rec.lambdaMin = rec.receivers.map((_, k) => lambdaMinOf(s.g, rec, k));
  rec.receivers.forEach((_, k) => {
    s.setGranted(rec, k, grantedLambdaMax(s.boundOf(rec, k), policy, deadline));
  });
}

/**
 * Brings a committed lane's window up to date after a pass and re-issues its grant if anything a
 * sender or receiver relies on moved. Returns the change, or undefined when the grant stands (the
 * common case: no object is built then, which keeps admission cheap with many lanes).
 */
export function refreshGrant(
  s: FabricState,
  rec: LaneRec,
  epoch: number,
  policy: WindowPolicy,
  pathMayMove: boolean,
): GrantChange | undefined {
  const before = rec.grant!;
  s.normalisePhase(rec);
  const deadline = Number.isFinite(rec.deadline) ? rec.deadline : undefined;
  let windowMoved = false;
  for (let k = 0; k < rec.receivers.length; k++) {
    const current = rec.grantedMax[k]!;
    const next = nextGrantedLambdaMax(current, s.boundOf(rec, k), policy, deadline);
    if (next !== current) {
      s.setGranted(rec, k, next);
      windowMoved = true;
    }
    if (pathMayMove) {
      const lambdaMin = lambdaMinOf(s.g, rec, k);
      if (lambdaMin !== rec.lambdaMin[k]) {
        rec.lambdaMin[k] = lambdaMin;
        windowMoved = true;
      }
    }
  }
  const payload = rec.sigma !== before.maxPayloadBytes;
  const period = rec.pi !== before.minPeriodNs;
  // A smaller E in force at the sender than the bounds now count would let its frames bunch more
  // than the other lanes' bounds allow: the grant must reach it.
  const release = (releaseJitterOf(s.g, rec).releaseJitterNs ?? 0) !== (before.releaseJitterNs ?? 0);
  // The phase only moves with π (taken mod π) or when a grant restored from an older version
  // (without phaseNs) is re-issued: either way the sender must learn it, as for a new π.
  const phase = rec.phase !== before.phaseNs;
  if (!windowMoved && !payload && !period && !phase && !release && !pathMayMove) return undefined;
  const reasons: ChangeReason[] = [];
  if (payload) reasons.push('payload');
  if (period || phase) reasons.push('period');
  if (release) reasons.push('release');
  if (pathMayMove && !treeMatches(s.g, rec, before.tree)) reasons.push('path');
  if (windowMoved) reasons.push('window');
  if (reasons.length === 0) return undefined;
  const after = buildGrant(s.g, rec, epoch);
  rec.grant = after;
  return { laneId: rec.id, before, after, reasons };
}
