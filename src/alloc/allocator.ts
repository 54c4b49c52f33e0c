// The allocator: admission, release and topology changes as transactions over a FabricState.
// Every mutation is tried in place and rolled back on failure (undo: uninstall the new lane,
// restore squeezed rates), or built on a fresh state and swapped in only on success, so a failed
// call changes nothing. Pure: no I/O, no clocks, no randomness.
import { XlaneError } from '../errors.js';
import type { TopologySpec } from '../topology/spec.js';
import { nextGrantedLambdaMax, type WindowPolicy } from './bounds.js';
import { assess, type Infeasibility, primary } from './feasibility.js';
import { buildGrant, deepFreeze, initWindow, refreshGrant } from './grants.js';
import { type CompiledGraph, compileGraph, portLabel } from './graph.js';
import { describeInfeasibility } from './messages.js';
import { rebuildLane, restoreLanes } from './restore.js';
import { Router } from './routing.js';
import { relax, squeezeToFit } from './squeeze.js';
import { FabricState, hasSlack, type LaneRec, laneRec } from './state.js';
import type {
  AdmitOk,
  Allocator,
  AllocatorOptions,
  Grant,
  GrantChange,
  LaneRequest,
  PersistedLane,
  PortReport,
  Rejected,
  ReleaseResult,
  ReplaceTopologyOk,
} from './types.js';
import { validateRequest } from './validate.js';
import { wireBytes } from './wire.js';

export const DEFAULT_HEADROOM = 0.05;
export const DEFAULT_QUANTUM_NS = 100;
export const DEFAULT_SRC_PORT_BASE = 20000;
const MAX_UDP_PORT = 65535;

function rejected(error: unknown): Rejected {
  if (error instanceof XlaneError) return { ok: false, error };
  throw error;
}

/** Lanes with slack that cross a port involved in a violation: the ones adjustment may squeeze. */
function squeezeCandidates(s: FabricState, violations: Infeasibility[]): Set<LaneRec> {
  const ports = new Set<number>();
  for (const v of violations) {
    if (v.reason === 'deadline' && v.lane) for (const p of v.lane.ports) ports.add(p);
    else ports.add(v.port);
  }
  const out = new Set<LaneRec>();
  for (const p of ports) {
    for (const h of s.portLH[p]!) {
      const rec = s.slots[s.lhLane[h]!]!;
      if (hasSlack(rec)) out.add(rec);
    }
  }
  return out;
}

export class LaneAllocator implements Allocator {
  private state: FabricState;
  private router: Router;
  private currentEpoch: number;
  private nextSeq = 0;
  private readonly names = new Map<string, string>();
  private readonly policy: WindowPolicy;
  private readonly srcPortBase: number;

  constructor(g: CompiledGraph, epoch: number, opts: AllocatorOptions = {}) {
    this.state = new FabricState(g);
    this.router = new Router(g);
    this.currentEpoch = epoch;
    this.policy = {
      headroom: opts.boundHeadroom ?? DEFAULT_HEADROOM,
      quantumNs: opts.boundQuantumNs ?? DEFAULT_QUANTUM_NS,
    };
    this.srcPortBase = opts.srcPortBase ?? DEFAULT_SRC_PORT_BASE;
    // Even an empty fabric has bounds (one blocking frame per port): ports() reports them.
    assess(this.state);
    if (!(this.policy.headroom >= 0) || !(this.policy.quantumNs > 0) || !Number.isInteger(this.srcPortBase))
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        'allocator options: headroom ≥ 0, quantum > 0, integer port base',
      );
  }

  get topology(): TopologySpec {
    return this.state.g.spec;
  }

  get epoch(): number {
    return this.currentEpoch;
  }

  /** Used by restoreAllocator: installs already-granted lanes and checks they still hold. */
  loadPersisted(lanes: PersistedLane[]): void {
    const recs = restoreLanes(this.state, lanes);
    for (const rec of recs) {
      rec.seq = this.nextSeq++;
      if (rec.request.name !== undefined) this.names.set(rec.request.name, rec.id);
    }
  }

  admit(laneId: string, request: LaneRequest): AdmitOk | Rejected {
    try {
      return this.admitOrThrow(laneId, request);
    } catch (e) {
      return rejected(e);
    }
  }

  private hostIndex(name: string): number {
    const i = this.state.g.nodeIndex.get(name);
    if (i === undefined || !this.state.g.isHost[i])
      throw new XlaneError('XL_ERR_UNKNOWN_HOST', `unknown host "${name}"`, { host: name });
    return i;
  }

  /** Validates and routes a request into a lane record (not installed yet). */
  private prepareLane(laneId: string, request: LaneRequest): LaneRec {
    const norm = validateRequest(laneId, request);
    const s = this.state;
    if (s.lanes.has(laneId))
      throw new XlaneError('XL_ERR_DUPLICATE', `lane "${laneId}" already exists`, { laneId });
    if (request.name !== undefined && this.names.has(request.name))
      throw new XlaneError('XL_ERR_DUPLICATE', `a lane named "${request.name}" already exists`, {
        name: request.name,
        laneId: this.names.get(request.name),
      });
    const sender = this.hostIndex(request.sender);
    const receivers = request.receivers.map((r) => this.hostIndex(r));
    const srcPort = s.freeSrcPort(sender, this.srcPortBase);
    if (srcPort > MAX_UDP_PORT)
      throw new XlaneError('XL_ERR_ADMISSION_REJECTED', `no free UDP source port left on ${request.sender}`, {
        reason: 'ports',
      });
    const rate = wireBytes(norm.sigmaReq) / norm.piReq;
    const routed = this.router.route(sender, receivers, rate, s.portRate, s.g.shareBytesPerNs);
    if (!routed.ok) {
      const to = s.g.nodeNames[routed.receiver]!;
      throw new XlaneError('XL_ERR_NO_PATH', `no path from ${request.sender} to ${to}`, {
        from: request.sender,
        to,
      });
    }
    const rec = laneRec({
      id: laneId,
      seq: this.nextSeq,
      slot: -1,
      request: deepFreeze(structuredClone(request)),
      sender,
      receivers,
      ...norm,
      sigma: norm.sigmaReq,
      pi: norm.piReq,
      squeeze: 0,
      phase: -1,
      ...routed.tree,
      hops: [],
      rx: [],
      srcPort,
      lambdaMin: [],
      grantedMax: [],
      grant: undefined,
    });
    return rec;
  }

  private admitOrThrow(laneId: string, request: LaneRequest): AdmitOk {
    const s = this.state;
    const rec = this.prepareLane(laneId, request);
    s.install(rec);
    const violations = assess(s);
    if (violations.length > 0) {
      // squeezeToFit restores the candidates' rates itself when even f = 1 does not fit.
      const outcome = squeezeToFit(s, squeezeCandidates(s, violations));
      if (!outcome.ok) {
        s.uninstall(rec);
        this.refreshPass();
        throw this.rejection(outcome.violations, rec);
      }
    }
    this.nextSeq++;
    this.currentEpoch++;
    if (request.name !== undefined) this.names.set(request.name, laneId);
    initWindow(s, rec, this.policy);
    const changed = this.refreshAll(false);
    // With its ports and final π known, and the other lanes' phases taken mod their new π.
    s.assignPhase(rec);
    rec.grant = buildGrant(s.g, rec, this.currentEpoch);
    return { ok: true, grant: rec.grant, changed, epoch: this.currentEpoch };
  }

  /**
   * Bulk loading (imports, benchmarks): when the whole batch fits as requested it is admitted with
   * one bound pass and one epoch, and the changes it caused to earlier grants are reported on the
   * last admitted lane's result. Otherwise every lane goes through admit() in order. Either way
   * each result is what admit() would report for that lane (ok or why not).
   */
  admitMany(entries: { laneId: string; request: LaneRequest }[]): (AdmitOk | Rejected)[] {
    const s = this.state;
    const results: (AdmitOk | Rejected | undefined)[] = [];
    const recs: LaneRec[] = [];
    const batchNames = new Set<string>();
    for (const { laneId, request } of entries) {
      try {
        const rec = this.prepareLane(laneId, request);
        const name = request.name;
        if (s.lanes.has(laneId) || (name !== undefined && batchNames.has(name)))
          throw new XlaneError('XL_ERR_DUPLICATE', `lane "${laneId}" appears twice`, { laneId });
        if (name !== undefined) batchNames.add(name);
        rec.seq = this.nextSeq + recs.length;
        s.install(rec);
        recs.push(rec);
        results.push(undefined);
      } catch (e) {
        results.push(rejected(e));
      }
    }
    if (recs.length === 0) return results as (AdmitOk | Rejected)[];
    if (assess(s).length > 0) {
      for (let i = recs.length - 1; i >= 0; i--) s.uninstall(recs[i]!);
      this.refreshPass();
      return entries.map(({ laneId, request }, i) => results[i] ?? this.admit(laneId, request));
    }
    this.nextSeq += recs.length;
    this.currentEpoch++;
    for (const rec of recs) {
      if (rec.request.name !== undefined) this.names.set(rec.request.name, rec.id);
      initWindow(s, rec, this.policy);
    }
    const changed = this.refreshAll(false);
    let k = 0;
    let last: AdmitOk | undefined;
    const out = results.map((r) => {
      if (r) return r;
      const rec = recs[k++]!;
      // In batch order: lanes of the batch picked before count as others, later ones not yet.
      s.assignPhase(rec);
      rec.grant = buildGrant(s.g, rec, this.currentEpoch);
      last = { ok: true, grant: rec.grant, changed: [], epoch: this.currentEpoch };
      return last;
    });
    if (last) last.changed = changed;
    return out;
  }

  private rejection(violations: Infeasibility[], newLane: LaneRec | undefined): XlaneError {
    const v = primary(violations)!;
    const { message, details } = describeInfeasibility(this.state.g, v, newLane?.id);
    return new XlaneError(
      v.reason === 'unstable' ? 'XL_ERR_UNSTABLE' : 'XL_ERR_ADMISSION_REJECTED',
      message,
      details,
    );
  }

  /** Re-runs the bound pass so the arrays (and the exact Σr that routing reads) match the lanes
   * again after a rollback: incremental add-then-subtract is not bit-exact. */
  private refreshPass(): void {
    assess(this.state);
  }

  /** After a committed change: re-issues every grant whose σ/π, window or path moved. Windows are
   * screened on the flat receiver table; only lanes that need a new grant touch objects. */
  private refreshAll(pathMayMove: boolean): GrantChange[] {
    const s = this.state;
    const t = s.rxTable;
    const candidates = new Set<LaneRec>(pathMayMove ? s.lanes.values() : s.rateTouched);
    s.rateTouched.clear();
    if (!pathMayMove) {
      for (let row = 0; row < t.high; row++) {
        const lane = t.lane[row]!;
        if (lane < 0) continue;
        const current = t.granted[row]!;
        const bound = t.bound(row, s.portDelay);
        if (nextGrantedLambdaMax(current, bound, this.policy, t.deadline[row]) !== current)
          candidates.add(s.slots[lane]!);
      }
    }
    const changed: GrantChange[] = [];
    for (const rec of candidates) {
      // Lanes without a grant yet are the ones being admitted: they get theirs after this.
      if (rec.grant === undefined || s.lanes.get(rec.id) !== rec) continue;
      const c = refreshGrant(s, rec, this.currentEpoch, this.policy, pathMayMove);
      if (c) changed.push(c);
    }
    changed.sort((a, b) => (a.laneId < b.laneId ? -1 : a.laneId > b.laneId ? 1 : 0));
    return changed;
  }

  release(laneId: string): ReleaseResult {
    const rec = this.state.lanes.get(laneId);
    if (!rec) throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no lane "${laneId}"`, { laneId });
    this.state.uninstall(rec);
    if (rec.request.name !== undefined) this.names.delete(rec.request.name);
    relax(this.state);
    this.currentEpoch++;
    return { changed: this.refreshAll(false), epoch: this.currentEpoch };
  }

  replaceTopology(spec: TopologySpec, opts: { force?: boolean } = {}): ReplaceTopologyOk | Rejected {
    try {
      return this.replaceOrThrow(spec, opts.force === true);
    } catch (e) {
      return rejected(e);
    }
  }

  private replaceOrThrow(spec: TopologySpec, force: boolean): ReplaceTopologyOk {
    const g = compileGraph(spec);
    const next = new FabricState(g);
    const router = new Router(g);
    const lost: { id: string; why: string }[] = [];
    const ordered = [...this.state.lanes.values()].sort((a, b) => a.seq - b.seq);
    for (const old of ordered) {
      const outcome = rebuildLane(next, router, old);
      if (typeof outcome === 'string') lost.push({ id: old.id, why: outcome });
      else next.install(outcome);
    }
    if (lost.length > 0 && !force) {
      throw new XlaneError(
        'XL_ERR_TOPOLOGY_CONFLICT',
        `the new topology would drop ${lost.length} lane(s): ${lost.map((l) => `${l.id} (${l.why})`).join(', ')}`,
        { lanes: lost.map((l) => l.id), reasons: lost },
      );
    }
    const dropped = this.fitOrDrop(next, force);
    relax(next);
    const revoked = [...lost.map((l) => l.id), ...dropped].sort();
    const prev = this.state;
    this.state = next;
    this.router = router;
    for (const id of revoked) {
      const name = prev.lanes.get(id)?.request.name;
      if (name !== undefined) this.names.delete(name);
    }
    this.currentEpoch++;
    return { ok: true, changed: this.refreshAll(true), revoked, epoch: this.currentEpoch };
  }

  /** Makes a rebuilt state feasible: squeeze; with force, drop the newest lanes on violating ports
   * until it fits, then take back any dropped lane that fits again. Returns dropped lane ids. */
  private fitOrDrop(s: FabricState, force: boolean): string[] {
    let violations = assess(s);
    if (violations.length === 0) return [];
    let outcome = squeezeToFit(s, squeezeCandidates(s, violations));
    if (outcome.ok) return [];
    if (!force) {
      const v = primary(outcome.violations)!;
      const { message, details } = describeInfeasibility(s.g, v, undefined);
      const onPort = [...new Set(s.portLH[v.port]!.map((h) => s.slots[s.lhLane[h]!]!.id))].sort();
      throw new XlaneError('XL_ERR_TOPOLOGY_CONFLICT', `the new topology breaks admitted lanes: ${message}`, {
        ...details,
        lanes: v.lane ? [v.lane.id] : onPort,
      });
    }
    const dropped: LaneRec[] = [];
    violations = outcome.violations;
    while (violations.length > 0) {
      const victim = this.newestOn(s, violations);
      s.uninstall(victim);
      dropped.push(victim);
      violations = assess(s);
      if (violations.length > 0) {
        outcome = squeezeToFit(s, squeezeCandidates(s, violations));
        violations = outcome.ok ? [] : outcome.violations;
      }
    }
    // Oldest first, give back what fits now: dropping newest-first may have over-shot.
    const kept: LaneRec[] = [];
    for (const rec of dropped.reverse()) {
      s.install(rec);
      const v = assess(s);
      if (v.length === 0 || squeezeToFit(s, squeezeCandidates(s, v)).ok) kept.push(rec);
      else {
        s.uninstall(rec);
        assess(s);
      }
    }
    return dropped.filter((r) => !kept.includes(r)).map((r) => r.id);
  }

  private newestOn(s: FabricState, violations: Infeasibility[]): LaneRec {
    let victim: LaneRec | undefined;
    const consider = (rec: LaneRec): void => {
      if (!victim || rec.seq > victim.seq) victim = rec;
    };
    for (const v of violations) {
      if (v.lane) consider(v.lane);
      for (const h of s.portLH[v.port]!) consider(s.slots[s.lhLane[h]!]!);
    }
    if (!victim) for (const rec of s.lanes.values()) consider(rec);
    return victim!;
  }

  grant(laneId: string): Grant | undefined {
    return this.state.lanes.get(laneId)?.grant;
  }

  request(laneId: string): LaneRequest | undefined {
    return this.state.lanes.get(laneId)?.request;
  }

  grants(): Grant[] {
    return [...this.state.lanes.values()]
      .map((r) => r.grant!)
      .sort((a, b) => (a.laneId < b.laneId ? -1 : a.laneId > b.laneId ? 1 : 0));
  }

  ports(): PortReport[] {
    const s = this.state;
    const g = s.g;
    const out: PortReport[] = [];
    for (let p = 0; p < s.portCount; p++) {
      out.push({
        ...portLabel(g, p),
        rateBps: g.portRateBps[p]!,
        shareBps: g.shareBps[p]!,
        expressBps: s.portRate[p]! * 8e9,
        burstBytes: s.portBurst[p]!,
        backlogBytes: s.portBacklog[p]!,
        bufferBytes: g.bufferBytes[p]!,
        delayNs: s.portDelay[p]!,
        lanes: s.portLH[p]!.length,
      });
    }
    return out.sort((a, b) =>
      a.from < b.from ? -1 : a.from > b.from ? 1 : a.to < b.to ? -1 : a.to > b.to ? 1 : 0,
    );
  }
}

export function createAllocator(spec: TopologySpec, opts?: AllocatorOptions): LaneAllocator {
  return new LaneAllocator(compileGraph(spec), 0, opts);
}

/** Rebuilds an allocator from persisted lanes without changing any grant. The array order is taken
 * as admission order. Throws XL_ERR_STORE when the lanes no longer hold on this topology. */
export function restoreAllocator(
  spec: TopologySpec,
  lanes: PersistedLane[],
  epoch: number,
  opts?: AllocatorOptions,
): Allocator {
  const a = new LaneAllocator(compileGraph(spec), epoch, opts);
  a.loadPersisted(lanes);
  return a;
}
