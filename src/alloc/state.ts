// The allocator's working state over one compiled topology: lanes, and their lane-hops (one per
// egress port a lane crosses) packed into typed arrays, with per-port lists of lane-hop indices.
// The bound pass (evaluate.ts) only touches these arrays, never per-hop objects.

import type { CompiledGraph } from './graph.js';
import { growF64, growI32 } from './grow.js';
import { pickPhaseOf } from './phase.js';
import { ReceiverTable } from './receivers.js';
import type { Grant, LaneRequest } from './types.js';
import { wireBytes } from './wire.js';

export interface LaneRec {
  id: string;
  /** Admission order; "newest first" when a forced topology change must drop lanes. */
  seq: number;
  slot: number;
  request: LaneRequest;
  sender: number;
  /** Receiver node indices, in request order. */
  receivers: number[];
  sigmaReq: number;
  sigmaMin: number;
  piReq: number;
  piMax: number;
  /** +Infinity when the lane has no deadline. */
  deadline: number;
  /** Granted σ/π and the squeeze factor they came from (0 = as requested). */
  sigma: number;
  pi: number;
  squeeze: number;
  /** Phase (Grant.phaseNs) in [0, π): picked once the lane is installed and fits, kept for the
   * lane's life (taken mod π when π changes); -1 until picked. */
  phase: number;
  /** Tree of egress ports, parents before children; parents[i] indexes into ports (-1: first hop). */
  ports: number[];
  parents: number[];
  /** Per receiver (request order): index into ports of its last hop. */
  leafOf: number[];
  /** Lane-hop indices parallel to ports while installed. */
  hops: number[];
  /** Per receiver: its row in the ReceiverTable while installed. */
  rx: number[];
  srcPort: number;
  /** Committed per-receiver window (request order). */
  lambdaMin: number[];
  grantedMax: number[];
  grant: Grant | undefined;
}

/** Copies a lane record field by field in one fixed order: every record then shares one hidden
 * class, which keeps the per-lane loops monomorphic. */
export function laneRec(f: LaneRec): LaneRec {
  return {
    id: f.id,
    seq: f.seq,
    slot: f.slot,
    request: f.request,
    sender: f.sender,
    receivers: f.receivers,
    sigmaReq: f.sigmaReq,
    sigmaMin: f.sigmaMin,
    piReq: f.piReq,
    piMax: f.piMax,
    deadline: f.deadline,
    sigma: f.sigma,
    pi: f.pi,
    squeeze: f.squeeze,
    phase: f.phase,
    ports: f.ports,
    parents: f.parents,
    leafOf: f.leafOf,
    hops: f.hops,
    rx: f.rx,
    srcPort: f.srcPort,
    lambdaMin: f.lambdaMin,
    grantedMax: f.grantedMax,
    grant: f.grant,
  };
}

export function hasSlack(rec: LaneRec): boolean {
  return rec.sigmaMin < rec.sigmaReq || rec.piMax > rec.piReq;
}

/** The squeeze factor a granted σ/π stands for: the larger of the two fractions of the way from the
 * request to the floor. Live lanes record this, not the factor bisection tried, because it is all a
 * restart can recover from the stored grant: the two must agree, or a controller that restarted
 * would ease lanes back (or squeeze them) differently from one that did not. */
export function factorOf(
  rec: Pick<LaneRec, 'sigmaReq' | 'sigmaMin' | 'piReq' | 'piMax'>,
  sigma: number,
  pi: number,
): number {
  const fs = rec.sigmaReq > rec.sigmaMin ? (rec.sigmaReq - sigma) / (rec.sigmaReq - rec.sigmaMin) : 0;
  const fp = rec.piMax > rec.piReq ? (pi - rec.piReq) / (rec.piMax - rec.piReq) : 0;
  return Math.min(1, Math.max(fs, fp, 0));
}

/** σ for a squeeze factor f, rounded down to whole bytes (conservative). */
export function squeezedSigma(sigmaReq: number, sigmaMin: number, f: number): number {
  return Math.max(sigmaMin, Math.floor(sigmaReq - f * (sigmaReq - sigmaMin) + 1e-9));
}

/** π for a squeeze factor f, rounded up to whole ns (conservative). */
export function squeezedPi(piReq: number, piMax: number, f: number): number {
  return Math.min(piMax, Math.ceil(piReq + f * (piMax - piReq) - 1e-9));
}

/** σ/π for a squeeze factor f. */
export function squeezed(rec: LaneRec, f: number): { sigma: number; pi: number } {
  return { sigma: squeezedSigma(rec.sigmaReq, rec.sigmaMin, f), pi: squeezedPi(rec.piReq, rec.piMax, f) };
}

export class FabricState {
  readonly g: CompiledGraph;
  readonly lanes = new Map<string, LaneRec>();
  readonly slots: (LaneRec | undefined)[] = [];
  private freeSlots: number[] = [];
  /** Per lane slot: wire bytes L and rate r = L/π in bytes per ns. */
  laneL = new Float64Array(64);
  laneR = new Float64Array(64);
  /** Per lane slot: π and phase (-1: none yet), mirrors of the LaneRec's for assignPhase. */
  lanePi = new Float64Array(64);
  lanePhase = new Float64Array(64);
  /** Per lane slot: scratch marks for visiting each lane once (nextLaneMark). */
  laneMark = new Int32Array(64);
  private laneMarkTop = 0;
  /** Scratch for assignPhase: phases and periods of the lanes a new one meets. */
  private phaseBuf = new Float64Array(64);
  private periodBuf = new Float64Array(64);

  lhLane = new Int32Array(256);
  lhPort = new Int32Array(256);
  lhParent = new Int32Array(256);
  lhFirstChild = new Int32Array(256);
  lhNextSibling = new Int32Array(256);
  lhPos = new Int32Array(256);
  lhJ = new Float64Array(256);
  private lhHigh = 0;
  private freeLH: number[] = [];

  readonly portLH: number[][];
  readonly rxTable = new ReceiverTable();
  /** Σr per port (bytes/ns), kept current on every change: routing reads it between passes. */
  readonly portRate: Float64Array;
  readonly portDelay: Float64Array;
  readonly portBurst: Float64Array;
  readonly portBacklog: Float64Array;
  /** Lanes with a deadline, checked after every pass. */
  readonly deadlineLanes = new Set<LaneRec>();
  /** Per sender host: source ports in use. */
  readonly srcPortsInUse = new Map<number, Set<number>>();

  // Incremental passes (evaluate.ts): ports whose inputs changed wait in buckets by topological
  // rank. Ranks come from the last full pass; a new dependency that contradicts them (or a cycle)
  // forces the next pass to be a full one.
  readonly portRank: Int32Array;
  ranksValid = false;
  readonly dirty: Uint8Array;
  dirtyBuckets: number[][] = [];
  /** Ports over share or buffer after the last pass, and deadline lanes past their deadline. */
  readonly overloaded = new Set<number>();
  readonly late = new Set<LaneRec>();
  /** Lanes currently squeezed (factor > 0): the ones a release may ease back. */
  readonly squeezedLanes = new Set<LaneRec>();
  /** Lanes whose σ/π moved since the last commit (their grants must be re-issued). */
  readonly rateTouched = new Set<LaneRec>();
  /** Port whose cyclic fixed point failed in the last pass, or -1. */
  unstablePort = -1;

  constructor(g: CompiledGraph) {
    this.g = g;
    const n = g.portFrom.length;
    this.portLH = Array.from({ length: n }, () => []);
    this.portRate = new Float64Array(n);
    this.portDelay = new Float64Array(n);
    this.portBurst = new Float64Array(n);
    this.portBacklog = new Float64Array(n);
    this.portRank = new Int32Array(n);
    this.dirty = new Uint8Array(n);
  }

  /** Queues a port for the next incremental pass. */
  markDirty(p: number): void {
    if (this.dirty[p]) return;
    this.dirty[p] = 1;
    const r = this.portRank[p]!;
    let bucket = this.dirtyBuckets[r];
    if (!bucket) {
      bucket = [];
      this.dirtyBuckets[r] = bucket;
    }
    bucket.push(p);
  }

  /** A mark no slot of laneMark carries yet. */
  private nextLaneMark(): number {
    if (this.laneMarkTop === 0x7fffffff) {
      this.laneMark.fill(0);
      this.laneMarkTop = 0;
    }
    return ++this.laneMarkTop;
  }

  /** Picks the phase of an installed lane (σ/π final) against the lanes that share at least one
   * egress port with it and already have one (phase ≥ 0), each counted once at its current π. */
  assignPhase(rec: LaneRec): void {
    const mark = this.nextLaneMark();
    this.laneMark[rec.slot] = mark;
    let n = 0;
    for (const p of rec.ports) {
      const list = this.portLH[p]!;
      for (let k = 0; k < list.length; k++) {
        const slot = this.lhLane[list[k]!]!;
        if (this.laneMark[slot] === mark) continue;
        this.laneMark[slot] = mark;
        const phase = this.lanePhase[slot]!;
        if (phase < 0) continue;
        if (n === this.phaseBuf.length) {
          this.phaseBuf = growF64(this.phaseBuf, n * 2);
          this.periodBuf = growF64(this.periodBuf, n * 2);
        }
        this.phaseBuf[n] = phase;
        this.periodBuf[n++] = this.lanePi[slot]!;
      }
    }
    rec.phase = pickPhaseOf(rec.pi, this.phaseBuf, this.periodBuf, n);
    this.lanePhase[rec.slot] = rec.phase;
  }

  /** A committed lane keeps its phase; when its π moved (squeeze, relax) it is taken mod π. */
  normalisePhase(rec: LaneRec): void {
    if (rec.phase < rec.pi) return;
    rec.phase %= rec.pi;
    this.lanePhase[rec.slot] = rec.phase;
  }

  get portCount(): number {
    return this.portLH.length;
  }

  private allocSlot(): number {
    const s = this.freeSlots.pop();
    if (s !== undefined) return s;
    const slot = this.slots.length;
    this.slots.push(undefined);
    if (slot >= this.laneL.length) {
      this.laneL = growF64(this.laneL, this.laneL.length * 2);
      this.laneR = growF64(this.laneR, this.laneR.length * 2);
      this.lanePi = growF64(this.lanePi, this.lanePi.length * 2);
      this.lanePhase = growF64(this.lanePhase, this.lanePhase.length * 2);
      this.laneMark = growI32(this.laneMark, this.laneMark.length * 2);
    }
    return slot;
  }

  private allocLH(): number {
    const h = this.freeLH.pop();
    if (h !== undefined) return h;
    const i = this.lhHigh++;
    if (i >= this.lhLane.length) {
      const cap = this.lhLane.length * 2;
      this.lhLane = growI32(this.lhLane, cap);
      this.lhPort = growI32(this.lhPort, cap);
      this.lhParent = growI32(this.lhParent, cap);
      this.lhFirstChild = growI32(this.lhFirstChild, cap);
      this.lhNextSibling = growI32(this.lhNextSibling, cap);
      this.lhPos = growI32(this.lhPos, cap);
      this.lhJ = growF64(this.lhJ, cap);
    }
    return i;
  }

  /** Adds a routed lane (rec.ports/parents set) at its current σ/π. */
  install(rec: LaneRec): void {
    const slot = this.allocSlot();
    rec.slot = slot;
    this.slots[slot] = rec;
    this.lanes.set(rec.id, rec);
    const L = wireBytes(rec.sigma);
    const r = L / rec.pi;
    this.laneL[slot] = L;
    this.laneR[slot] = r;
    this.lanePi[slot] = rec.pi;
    this.lanePhase[slot] = rec.phase;
    rec.hops = new Array(rec.ports.length);
    for (let i = 0; i < rec.ports.length; i++) {
      const h = this.allocLH();
      const p = rec.ports[i]!;
      const parentIdx = rec.parents[i]!;
      const parent = parentIdx < 0 ? -1 : rec.hops[parentIdx]!;
      this.lhLane[h] = slot;
      this.lhPort[h] = p;
      this.lhParent[h] = parent;
      this.lhFirstChild[h] = -1;
      this.lhNextSibling[h] = -1;
      if (parent >= 0) {
        this.lhNextSibling[h] = this.lhFirstChild[parent]!;
        this.lhFirstChild[parent] = h;
      }
      this.insertHop(this.portLH[p]!, h, rec.seq);
      this.portRate[p] = this.portRate[p]! + r;
      rec.hops[i] = h;
      if (parentIdx >= 0 && this.portRank[rec.ports[parentIdx]!]! >= this.portRank[p]!)
        this.ranksValid = false;
      this.markDirty(p);
    }
    this.addReceivers(rec);
    if (Number.isFinite(rec.deadline)) this.deadlineLanes.add(rec);
    if (rec.squeeze > 0) this.squeezedLanes.add(rec);
    let used = this.srcPortsInUse.get(rec.sender);
    if (!used) {
      used = new Set();
      this.srcPortsInUse.set(rec.sender, used);
    }
    used.add(rec.srcPort);
  }

  uninstall(rec: LaneRec): void {
    const r = this.laneR[rec.slot]!;
    for (const h of rec.hops) {
      const p = this.lhPort[h]!;
      const list = this.portLH[p]!;
      this.removeHop(list, h);
      this.portRate[p] = list.length === 0 ? 0 : this.portRate[p]! - r;
      this.freeLH.push(h);
      this.markDirty(p);
    }
    this.late.delete(rec);
    this.squeezedLanes.delete(rec);
    rec.hops = [];
    for (const row of rec.rx) this.rxTable.remove(row);
    rec.rx = [];
    this.slots[rec.slot] = undefined;
    this.freeSlots.push(rec.slot);
    this.lanes.delete(rec.id);
    this.deadlineLanes.delete(rec);
    this.srcPortsInUse.get(rec.sender)?.delete(rec.srcPort);
  }

  /** A port's lane-hops stay in admission order (seq). The bound pass sums them in list order, and
   * float sums depend on it: a restart installs the stored lanes in admission order, so only with
   * the same order do the live and the restored state agree to the bit (and decide alike later).
   * Admission appends; a lane taken back after a forced topology change goes back in its place. */
  private insertHop(list: number[], h: number, seq: number): void {
    let pos = list.length;
    list.push(h);
    for (; pos > 0; pos--) {
      const prev = list[pos - 1]!;
      if (this.slots[this.lhLane[prev]!]!.seq <= seq) break;
      list[pos] = prev;
      this.lhPos[prev] = pos;
    }
    list[pos] = h;
    this.lhPos[h] = pos;
  }

  /** Order-preserving: costs the hops behind it, as one bound pass over the port does anyway. */
  private removeHop(list: number[], h: number): void {
    for (let i = this.lhPos[h]! + 1; i < list.length; i++) {
      const next = list[i]!;
      list[i - 1] = next;
      this.lhPos[next] = i - 1;
    }
    list.pop();
  }

  /** Changes a lane's granted σ/π (and the squeeze factor they stand for). */
  setRate(rec: LaneRec, sigma: number, pi: number, squeeze: number): void {
    rec.squeeze = squeeze;
    if (squeeze > 0) this.squeezedLanes.add(rec);
    else this.squeezedLanes.delete(rec);
    if (sigma === rec.sigma && pi === rec.pi) return;
    rec.sigma = sigma;
    rec.pi = pi;
    this.rateTouched.add(rec);
    this.trialRate(rec.slot, sigma, pi, rec.ports, 0, rec.ports.length);
  }

  /** σ/π of lane `slot` into the bound arrays only (L, r = L/π, π), its ports (ports[from..to), in
   * rec.ports order) queued. setRate is this plus the record's bookkeeping; a bisection step
   * (squeeze.ts) calls it alone and settles the records once, for the outcome: per step and lane,
   * reading the record and two Set operations cost more than the rest. */
  trialRate(
    slot: number,
    sigma: number,
    pi: number,
    ports: ArrayLike<number>,
    from: number,
    to: number,
  ): void {
    const L = wireBytes(sigma);
    const r = L / pi;
    const dr = r - this.laneR[slot]!;
    this.laneL[slot] = L;
    this.laneR[slot] = r;
    this.lanePi[slot] = pi;
    for (let i = from; i < to; i++) {
      const p = ports[i]!;
      this.portRate[p] = this.portRate[p]! + dr;
      this.markDirty(p);
    }
  }

  /** Lowest free source port of a sender from `base`. */
  freeSrcPort(sender: number, base: number): number {
    const used = this.srcPortsInUse.get(sender);
    let port = base;
    while (used?.has(port)) port++;
    return port;
  }

  private addReceivers(rec: LaneRec): void {
    const g = this.g;
    rec.rx = rec.receivers.map((r, k) => {
      const path: number[] = [];
      let base = g.sendMax[rec.sender]! + g.recvMax[r]!;
      for (let i = rec.leafOf[k]!; i >= 0; i = rec.parents[i]!) {
        path.push(rec.ports[i]!);
        base += g.staticMaxNs[rec.ports[i]!]!;
      }
      return this.rxTable.add(rec.slot, base, rec.deadline, rec.grantedMax[k] ?? Number.NaN, path.reverse());
    });
  }

  /** λ_max bound of a lane's receiver k from the last pass: send, every hop's D, propagation and
   * next-switch forwarding, receive. */
  boundOf(rec: LaneRec, k: number): number {
    return this.rxTable.bound(rec.rx[k]!, this.portDelay);
  }

  /** Records a lane's granted λ_max for receiver k (grant and table stay in step). */
  setGranted(rec: LaneRec, k: number, value: number): void {
    rec.grantedMax[k] = value;
    this.rxTable.granted[rec.rx[k]!] = value;
  }
}
