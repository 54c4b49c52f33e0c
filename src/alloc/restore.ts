// Rebuilding lanes on a compiled topology from what was granted before: after a restart (restore,
// which must not change any grant) and after a topology change (sticky paths where they survive).
import { XlaneError } from '../errors.js';
import { assess } from './feasibility.js';
import { deepFreeze } from './grants.js';
import type { CompiledGraph } from './graph.js';
import { portOf } from './graph.js';
import type { Router, RouteTree } from './routing.js';
import { type FabricState, factorOf, type LaneRec, laneRec } from './state.js';
import type { Hop, PersistedLane } from './types.js';
import { validateRequest } from './validate.js';
import { wireBytes } from './wire.js';

/** Relative float slack when re-checking restored windows against freshly computed bounds. */
const RESTORE_SLACK = 1e-9;

/** Maps a granted tree (node names) onto port indices; undefined if any part no longer exists or
 * it is not a tree from the sender that reaches every receiver through switches only. */
export function treeFromHops(
  g: CompiledGraph,
  sender: number,
  receivers: number[],
  hops: Hop[],
): RouteTree | undefined {
  const ports: number[] = [];
  const parents: number[] = [];
  const reachedBy = new Map<number, number>([[sender, -1]]);
  for (const hop of hops) {
    const from = g.nodeIndex.get(hop.from);
    const to = g.nodeIndex.get(hop.to);
    if (from === undefined || to === undefined) return undefined;
    const p = portOf(g, from, to);
    const parent = reachedBy.get(from);
    if (p === undefined || parent === undefined || reachedBy.has(to)) return undefined;
    if (from !== sender && g.isHost[from]) return undefined;
    ports.push(p);
    parents.push(parent);
    reachedBy.set(to, ports.length - 1);
  }
  const leafOf: number[] = [];
  for (const r of receivers) {
    const i = reachedBy.get(r);
    if (i === undefined || i < 0) return undefined;
    leafOf.push(i);
  }
  return { ports, parents, leafOf };
}

function hostOf(g: CompiledGraph, name: string): number | undefined {
  const i = g.nodeIndex.get(name);
  return i !== undefined && g.isHost[i] ? i : undefined;
}

/** A lane of the old state re-placed on a new topology: same σ/π, phase and window, old tree if it
 * still exists, otherwise a fresh route. Returns why it cannot be placed instead. */
export function rebuildLane(s: FabricState, router: Router, old: LaneRec): LaneRec | string {
  const g = s.g;
  const sender = hostOf(g, old.request.sender);
  if (sender === undefined) return `sender ${old.request.sender} left`;
  const receivers: number[] = [];
  for (const name of old.request.receivers) {
    const r = hostOf(g, name);
    if (r === undefined) return `receiver ${name} left`;
    receivers.push(r);
  }
  let tree = treeFromHops(g, sender, receivers, old.grant!.tree);
  if (!tree) {
    const routed = router.route(
      sender,
      receivers,
      wireBytes(old.sigma) / old.pi,
      s.portRate,
      g.shareBytesPerNs,
    );
    if (!routed.ok) return `no path to ${g.nodeNames[routed.receiver]}`;
    tree = routed.tree;
  }
  return laneRec({
    ...old,
    slot: -1,
    sender,
    receivers,
    ...tree,
    hops: [],
    lambdaMin: [...old.lambdaMin],
    grantedMax: [...old.grantedMax],
  });
}

function storeError(laneId: string, message: string, extra: Record<string, unknown> = {}): XlaneError {
  return new XlaneError('XL_ERR_STORE', `persisted lane ${laneId}: ${message}`, { laneId, ...extra });
}

function recFromPersisted(g: CompiledGraph, lane: PersistedLane): LaneRec {
  const { laneId, request, grant } = lane;
  let norm: ReturnType<typeof validateRequest>;
  try {
    norm = validateRequest(laneId, request);
  } catch (e) {
    throw storeError(laneId, `invalid request: ${(e as Error).message}`);
  }
  if (grant.laneId !== laneId) throw storeError(laneId, `grant belongs to lane ${grant.laneId}`);
  const sender = hostOf(g, request.sender);
  const receivers = request.receivers.map((r) => hostOf(g, r));
  if (sender === undefined || receivers.some((r) => r === undefined) || grant.sender !== request.sender)
    throw storeError(laneId, 'its hosts are not in the topology');
  const tree = treeFromHops(g, sender, receivers as number[], grant.tree);
  if (!tree) throw storeError(laneId, 'its granted tree does not exist in the topology');
  const sigma = grant.maxPayloadBytes;
  const pi = grant.minPeriodNs;
  if (!(sigma >= norm.sigmaMin && sigma <= norm.sigmaReq && pi >= norm.piReq && pi <= norm.piMax))
    throw storeError(laneId, 'its grant lies outside its request');
  const byHost = new Map(grant.receivers.map((r) => [r.host, r]));
  const windows = request.receivers.map((name) => byHost.get(name));
  if (windows.some((w) => w === undefined) || grant.receivers.length !== request.receivers.length)
    throw storeError(laneId, 'its grant does not cover every receiver');
  // Grants stored by versions without phases have no phaseNs: restoreLanes picks one (-1 here).
  const phase = grant.phaseNs;
  if (phase !== undefined && !(Number.isInteger(phase) && phase >= 0 && phase < pi))
    throw storeError(laneId, `phaseNs ${String(phase)} is not an integer in [0, minPeriodNs ${pi})`, {
      phaseNs: phase,
    });
  return laneRec({
    id: laneId,
    seq: 0,
    slot: -1,
    request: deepFreeze(structuredClone(request)),
    sender,
    receivers: receivers as number[],
    ...norm,
    sigma,
    pi,
    // The squeeze factor the grant stands for (as live lanes record it), so a later release eases
    // it back exactly as it would have without the restart.
    squeeze: factorOf(norm, sigma, pi),
    phase: phase ?? -1,
    ...tree,
    hops: [],
    rx: [],
    srcPort: grant.srcPort,
    lambdaMin: windows.map((w) => w!.lambdaMinNs),
    grantedMax: windows.map((w) => w!.lambdaMaxNs),
    grant: deepFreeze(structuredClone(grant)),
  });
}

/** Installs persisted lanes exactly as granted and checks the result still holds: every port within
 * share and buffer, every bound within its granted λ_max and deadline. Throws XL_ERR_STORE.
 * A lane persisted without a phase (an older version's grant) gets one, in array order, against the
 * lanes it shares a port with that have one; its grant stays as stored until it is next re-issued
 * (refreshGrant then reports the new phaseNs with reason 'period'). */
export function restoreLanes(s: FabricState, lanes: PersistedLane[]): LaneRec[] {
  const recs: LaneRec[] = [];
  for (const lane of lanes) {
    const rec = recFromPersisted(s.g, lane);
    if (s.lanes.has(rec.id)) throw storeError(rec.id, 'appears twice');
    if (s.srcPortsInUse.get(rec.sender)?.has(rec.srcPort))
      throw storeError(rec.id, `source port ${rec.srcPort} is used twice on ${rec.request.sender}`);
    s.install(rec);
    recs.push(rec);
  }
  for (const rec of recs) if (rec.phase < 0) s.assignPhase(rec);
  const violations = assess(s);
  if (violations.length > 0) {
    const v = violations[0]!;
    throw new XlaneError('XL_ERR_STORE', `persisted lanes no longer fit the topology (${v.reason})`, {
      reason: v.reason,
      port: { from: s.g.nodeNames[s.g.portFrom[v.port]!], to: s.g.nodeNames[s.g.portTo[v.port]!] },
      ...(v.lane ? { laneId: v.lane.id } : {}),
    });
  }
  for (const rec of recs) {
    for (let k = 0; k < rec.receivers.length; k++) {
      const bound = s.boundOf(rec, k);
      if (bound > rec.grantedMax[k]! * (1 + RESTORE_SLACK))
        throw storeError(rec.id, `granted λ_max ${rec.grantedMax[k]} ns is below the bound ${bound} ns`, {
          receiver: rec.request.receivers[k],
        });
    }
  }
  return recs;
}
