// The bound pass: per port the delay D, burst, backlog; per lane-hop the jitter J accumulated
// upstream. Ports are visited in topological order of the port dependency graph (edge q→p when a
// lane crosses q then p), so a feed-forward fabric needs a single visit per port.
//
// Two modes. A full pass orders every port with Kahn's algorithm and records each port's rank; what
// Kahn cannot order lies on or behind a cycle and is iterated to a fixed point from J = 0. An
// incremental pass (the common case: one lane added, released or re-tuned) re-visits only the
// ports marked dirty, in rank order, and follows a change downstream only where D or some J
// actually moved. Both compute each port with the same arithmetic in the same order, so they agree
// to the bit.
import type { FabricState } from './state.js';

/** Rounds without convergence before the cyclic part is declared unstable. */
export const MAX_FIXED_POINT_ROUNDS = 200;
/** Convergence: no port delay moved more than this (ns) in the last round. */
export const FIXED_POINT_EPSILON_NS = 0.001;
/** Any delay beyond this (ns, ~ 1000 s) means the cyclic part diverges. */
const DIVERGED_NS = 1e12;
/** Relative slack on capacity checks so that float noise at exactly-full never flips a verdict. */
export const CAPACITY_EPS = 1e-12;

let indegScratch = new Int32Array(0);
let queueScratch = new Int32Array(0);
let doneScratch = new Uint8Array(0);

/** Set by visitPort with `propagate`: lane-hops with children whose J did not move, so whose
 * children it did not mark. */
let unmarkedHops = 0;

/** Re-computes one port from its lane-hops. With `propagate`, marks downstream ports whose inputs
 * moved. Returns |ΔD|. */
function visitPort(s: FabricState, p: number, propagate: boolean): number {
  const list = s.portLH[p]!;
  const { lhLane, lhParent, lhPort, lhJ, lhFirstChild, lhNextSibling, laneL, laneR, portDelay } = s;
  const g = s.g;
  const nsPerByte = g.nsPerByte;
  const entry = g.entryJitterNs[p]!;
  let sumB = 0;
  let sumR = 0;
  let unmarked = 0;
  for (let k = 0; k < list.length; k++) {
    const h = list[k]!;
    const lane = lhLane[h]!;
    const L = laneL[lane]!;
    const r = laneR[lane]!;
    const par = lhParent[h]!;
    let J = entry;
    if (par >= 0) {
      const q = lhPort[par]!;
      J += lhJ[par]! + Math.max(portDelay[q]! - L * nsPerByte[q]!, 0);
    }
    if (propagate) {
      if (J !== lhJ[h]) {
        for (let c = lhFirstChild[h]!; c >= 0; c = lhNextSibling[c]!) s.markDirty(lhPort[c]!);
      } else if (lhFirstChild[h]! >= 0) unmarked++;
    }
    lhJ[h] = J;
    sumB += L + r * J;
    sumR += r;
  }
  unmarkedHops = unmarked;
  const D = (g.maxFrameBytes + sumB) * nsPerByte[p]!;
  const moved = Math.abs(D - portDelay[p]!);
  portDelay[p] = D;
  s.portBurst[p] = sumB;
  s.portRate[p] = sumR;
  const backlog = sumB + sumR * g.blockingNs[p]!;
  s.portBacklog[p] = backlog;
  if (
    list.length > 0 &&
    (sumR > g.shareBytesPerNs[p]! * (1 + CAPACITY_EPS) || backlog > g.bufferBytes[p]! * (1 + CAPACITY_EPS))
  )
    s.overloaded.add(p);
  else s.overloaded.delete(p);
  return moved;
}

/** Whether port p is over its express share with the lanes' current rates: Σr summed exactly as
 * visitPort sums it and tested as assess tests it, so true is the verdict the next pass would reach
 * (that pass visits p, or p's rates have not moved since it was last visited over its share, or the
 * pass ends unstable). The bisection (squeeze.ts) skips the pass of a step this already refutes. */
export function overShare(s: FabricState, p: number): boolean {
  const list = s.portLH[p]!;
  const { lhLane, laneR } = s;
  let sumR = 0;
  for (let k = 0; k < list.length; k++) sumR += laneR[lhLane[list[k]!]!]!;
  return list.length > 0 && sumR > s.g.shareBytesPerNs[p]! * (1 + CAPACITY_EPS);
}

/** Which deadline lanes are past their deadline: a scan of the receiver table. */
function checkDeadlines(s: FabricState): void {
  s.late.clear();
  if (s.deadlineLanes.size === 0) return;
  const t = s.rxTable;
  for (let row = 0; row < t.high; row++) {
    const deadline = t.deadline[row]!;
    if (deadline === Number.POSITIVE_INFINITY) continue;
    const lane = t.lane[row]!;
    if (lane >= 0 && t.bound(row, s.portDelay) > deadline) s.late.add(s.slots[lane]!);
  }
}

/** Brings every derived array up to date with the lanes (full or incremental, as needed). */
export function evaluate(s: FabricState): void {
  if (!s.ranksValid) {
    fullPass(s);
    return;
  }
  const buckets = s.dirtyBuckets;
  for (let r = 0; r < buckets.length; r++) {
    const bucket = buckets[r];
    if (!bucket) continue;
    // Children always have a higher rank, so this bucket does not grow while we walk it.
    for (let i = 0; i < bucket.length; i++) {
      const p = bucket[i]!;
      s.dirty[p] = 0;
      // visitPort queues the children of lane-hops whose J moved; if D moved, every child moves
      // (nothing left to queue when every J moved: the common case deep in a loaded fabric).
      if (visitPort(s, p, true) !== 0 && unmarkedHops > 0) {
        const list = s.portLH[p]!;
        for (let k = 0; k < list.length; k++)
          for (let c = s.lhFirstChild[list[k]!]!; c >= 0; c = s.lhNextSibling[c]!) s.markDirty(s.lhPort[c]!);
      }
    }
    bucket.length = 0;
  }
  checkDeadlines(s);
}

function clearDirty(s: FabricState): void {
  for (const bucket of s.dirtyBuckets) {
    if (!bucket) continue;
    for (const p of bucket) s.dirty[p] = 0;
    bucket.length = 0;
  }
}

function fullPass(s: FabricState): void {
  clearDirty(s);
  const n = s.portCount;
  if (indegScratch.length < n) {
    indegScratch = new Int32Array(n);
    queueScratch = new Int32Array(n);
    doneScratch = new Uint8Array(n);
  }
  const indeg = indegScratch;
  const queue = queueScratch;
  const done = doneScratch;
  indeg.fill(0, 0, n);
  done.fill(0, 0, n);
  s.portRank.fill(0);
  const { portLH, lhParent, lhFirstChild, lhNextSibling, lhPort, portRank } = s;
  for (let p = 0; p < n; p++) {
    const list = portLH[p]!;
    let d = 0;
    for (let k = 0; k < list.length; k++) if (lhParent[list[k]!]! >= 0) d++;
    indeg[p] = d;
  }
  let head = 0;
  let tail = 0;
  for (let p = 0; p < n; p++) if (indeg[p] === 0) queue[tail++] = p;
  while (head < tail) {
    const p = queue[head++]!;
    done[p] = 1;
    visitPort(s, p, false);
    const list = portLH[p]!;
    const next = portRank[p]! + 1;
    for (let k = 0; k < list.length; k++) {
      const h = list[k]!;
      for (let c = lhFirstChild[h]!; c >= 0; c = lhNextSibling[c]!) {
        const q = lhPort[c]!;
        if (portRank[q]! < next) portRank[q] = next;
        const left = indeg[q]! - 1;
        indeg[q] = left;
        if (left === 0) queue[tail++] = q;
      }
    }
  }
  s.unstablePort = -1;
  s.ranksValid = tail === n;
  if (!s.ranksValid) s.unstablePort = solveCyclic(s, done);
  s.late.clear();
  if (s.unstablePort < 0) checkDeadlines(s);
}

/** Gauss-Seidel over the ports Kahn could not order, starting from zero queueing jitter. Returns
 * the port that failed to converge, or -1. */
function solveCyclic(s: FabricState, done: Uint8Array): number {
  const rest: number[] = [];
  for (let p = 0; p < s.portCount; p++) {
    if (!done[p]) {
      rest.push(p);
      // Start from nothing queued (and forget the last pass): the same lanes always give the same
      // approximation of the fixed point, so a rolled-back admission leaves no trace.
      s.portDelay[p] = 0;
      for (const h of s.portLH[p]!) s.lhJ[h] = 0;
    }
  }
  let worst = rest[0]!;
  for (let round = 0; round < MAX_FIXED_POINT_ROUNDS; round++) {
    let maxMoved = 0;
    for (const p of rest) {
      const moved = visitPort(s, p, false);
      if (moved > maxMoved) {
        maxMoved = moved;
        worst = p;
      }
      if (!(s.portDelay[p]! < DIVERGED_NS)) return p;
    }
    if (maxMoved <= FIXED_POINT_EPSILON_NS) return -1;
  }
  return worst;
}
