// Phases: where in its period a lane's boundaries sit (Grant.phaseNs). Lanes that share an egress
// port should not release at the same instants, so a new lane takes the phase farthest from those
// of the lanes it meets. Two periodic streams with periods π and π_b meet at offsets that are
// multiples of g = gcd(π, π_b) apart, so the distance to lane b is circular modulo g:
// d_b(φ) = min(x, g − x) with x = (φ − φ_b) mod g. Integers only; no clock, no randomness.

export interface PhasedLane {
  phaseNs: number;
  periodNs: number;
}

/**
 * Lanes whose g with the new lane is below this cannot be kept apart by a phase: whatever the
 * phases, their boundaries come within g/2 < 0.5 µs of each other at some point, less than one
 * frame's time on the wire. They only break ties (see pickPhase); otherwise a single lane with an
 * odd period (g = 1 ns) would pin every choice to a distance of 0 and the phase to 0.
 */
export const MIN_SEPARABLE_NS = 1000;
/** Evenly spaced candidates over [0, π). */
const EVEN_CANDIDATES = 16;
/** Midpoints of the largest gaps between the separable lanes' lattice points. */
const GAP_CANDIDATES = 4;
/** Tent peaks φ_b + g_b/2 of lanes whose lattice was not expanded into points. */
const TENT_CANDIDATES = 8;
/** Lattice points expanded: at most this many plus POINTS_PER_LANE per lane. */
const POINT_BUDGET = 256;
const POINTS_PER_LANE = 8;

const INT32 = 2 ** 31;

/** gcd of two non-negative integers below 2^53. */
export function gcd(a: number, b: number): number {
  // Periods below ~2.1 s fit int32, whose remainder is several times cheaper than a double's.
  if (a < INT32 && b < INT32) {
    let x = a | 0;
    let y = b | 0;
    while (y !== 0) {
      const t = (x % y) | 0;
      x = y;
      y = t;
    }
    return x;
  }
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** a mod g in [0, g), for integers a (|a| < 2^53) and g ≥ 1. */
function modulo(a: number, g: number): number {
  let x: number;
  if (a < INT32 && a > -INT32 && g < INT32) x = ((a | 0) % (g | 0)) | 0;
  else x = a % g;
  return x < 0 ? x + g : x;
}

/** d(φ) = min(x, g − x) with x = (φ − φ_b) mod g (non-negative). */
export function phaseDistance(phi: number, phiB: number, g: number): number {
  const x = modulo(phi - phiB, g);
  return Math.min(x, g - x);
}

interface Lattice {
  /** g = gcd(π, π_b) and φ_b mod g. */
  g: number;
  r: number;
}

function latticeOf(periodNs: number, o: PhasedLane): Lattice {
  const g = gcd(periodNs, o.periodNs);
  return { g, r: modulo(o.phaseNs, g) };
}

function scoreOf(phi: number, lanes: readonly Lattice[]): [number, number] {
  let sep = Number.POSITIVE_INFINITY;
  let all = Number.POSITIVE_INFINITY;
  for (const { g, r } of lanes) {
    const d = phaseDistance(phi, r, g);
    if (d < all) all = d;
    if (g >= MIN_SEPARABLE_NS && d < sep) sep = d;
  }
  return [sep, all];
}

/** The two levels pickPhase maximises at φ: the smallest distance to a separable lane
 * (+Infinity when there is none), then the smallest distance to any lane (+Infinity: none). */
export function phaseScore(periodNs: number, phi: number, others: readonly PhasedLane[]): [number, number] {
  const lanes = others.map((o) => latticeOf(periodNs, o));
  return scoreOf(phi, lanes);
}

/** Distance from φ to the nearest of `points` (sorted, in [0, L)) repeated every L. */
function nearest(points: Float64Array, L: number, phi: number): number {
  const x = phi % L;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  const above = lo < points.length ? points[lo]! : points[0]! + L;
  const below = lo > 0 ? points[lo - 1]! : points[points.length - 1]! - L;
  return Math.min(above - x, x - below);
}

/** min(from, d_b(φ) over the lanes idx[0..n) of G/R), stopping at 0. */
function minOver(
  phi: number,
  G: Float64Array,
  R: Float64Array,
  idx: ArrayLike<number>,
  n: number,
  from: number,
) {
  let min = from;
  for (let k = 0; k < n && min > 0; k++) {
    const i = idx[k]!;
    const d = phaseDistance(phi, R[i]!, G[i]!);
    if (d < min) min = d;
  }
  return min;
}

/**
 * The phase φ ∈ [0, π) for a new lane of period π that keeps it farthest from `others` (the lanes
 * sharing an egress port with it): first the largest minimum distance d_b(φ) over the separable
 * lanes (g ≥ MIN_SEPARABLE_NS), then over all lanes, then the smallest φ. No others: 0.
 *
 * Candidates, all scored exactly: 16 evenly spaced points; the midpoints of the 4 largest gaps of
 * the union of the separable lanes' lattices {φ_b mod g_b + k·g_b} (that union repeats every
 * L = lcm of their g_b, which divides π; lattices are expanded coarsest first within a budget of
 * 256 + 8 per lane points, which with equal or harmonic periods covers every lane, and then the
 * largest gap's midpoint is an exact optimum of the first level); and the tent peaks φ_b + ⌊g_b/2⌋
 * of the 8 coarsest lanes left out of that union. The first level of a candidate costs a binary
 * search in the union (plus the separable lanes left out of it); the second is computed only for
 * the candidates that tie on the first. The result does not depend on the order of the others.
 */
export function pickPhase(periodNs: number, others: readonly PhasedLane[]): number {
  const phases = others.map((o) => o.phaseNs);
  const periods = others.map((o) => o.periodNs);
  return pickPhaseOf(periodNs, phases, periods, others.length);
}

// Scratch arrays reused across calls (allocating typed arrays costs more than the work with few
// others). Nothing survives a call in them.
let scratchG = new Float64Array(64);
let scratchR = new Float64Array(64);
let scratchIns = new Int32Array(64);
let scratchPoints = new Float64Array(256);
const EMPTY = new Float64Array(0);

function pointBuffer(count: number): Float64Array {
  if (scratchPoints.length < count)
    scratchPoints = new Float64Array(Math.max(count, scratchPoints.length * 2));
  return scratchPoints.subarray(0, count);
}

/** pickPhase over the first n entries of parallel arrays: the allocator's form, no objects. */
export function pickPhaseOf(
  periodNs: number,
  phases: ArrayLike<number>,
  periods: ArrayLike<number>,
  n: number,
): number {
  if (n === 0 || !(periodNs > 1)) return 0;
  if (scratchG.length < n) {
    const cap = Math.max(n, scratchG.length * 2);
    scratchG = new Float64Array(cap);
    scratchR = new Float64Array(cap);
    scratchIns = new Int32Array(cap);
  }
  const G = scratchG;
  const R = scratchR;
  const ins = scratchIns;
  const sep: number[] = [];
  let nIns = 0;
  // A lane with g = 1 is at distance 0 from every integer φ: the second level is 0 throughout.
  let pinned = false;
  for (let i = 0; i < n; i++) {
    const g = gcd(periodNs, periods[i]!);
    G[i] = g;
    R[i] = modulo(phases[i]!, g);
    if (g >= MIN_SEPARABLE_NS) sep.push(i);
    else if (g === 1) pinned = true;
    else ins[nIns++] = i;
  }
  // The union of the separable lattices repeats every L = lcm of their g (a divisor of π). When
  // all of them fit the point budget they all go in; otherwise coarsest first (ties by residue,
  // duplicates skipped), an order that does not depend on the order of the others.
  const budget = POINT_BUDGET + POINTS_PER_LANE * n;
  let L = 1;
  for (const i of sep) L = (L / gcd(L, G[i]!)) * G[i]!;
  let count = 0;
  for (const i of sep) count += L / G[i]!;
  let included: number[] = sep;
  const leftOut: number[] = [];
  if (count > budget) {
    sep.sort((a, b) => G[b]! - G[a]! || R[a]! - R[b]!);
    included = [];
    L = 1;
    count = 0;
    for (let k = 0; k < sep.length; k++) {
      const i = sep[k]!;
      if (k > 0 && G[i] === G[sep[k - 1]!] && R[i] === R[sep[k - 1]!]) continue;
      const next = (L / gcd(L, G[i]!)) * G[i]!;
      const nextCount = count * (next / L) + next / G[i]!;
      if (nextCount <= budget) {
        included.push(i);
        L = next;
        count = nextCount;
      } else leftOut.push(i);
    }
  }

  const candidates: number[] = [];
  for (let i = 0; i < EVEN_CANDIDATES; i++) candidates.push(Math.floor((i * periodNs) / EVEN_CANDIDATES));
  const points = count > 0 ? pointBuffer(count) : EMPTY;
  if (count > 0) {
    let k = 0;
    for (const i of included) for (let x = R[i]!; x < L; x += G[i]!) points[k++] = x;
    points.sort();
    // The GAP_CANDIDATES largest circular gaps (ties: the earlier one in point order).
    const bestGap: number[] = [];
    const bestMid: number[] = [];
    let prev = points[0]!;
    for (let i = 1; i <= count; i++) {
      const cur = i < count ? points[i]! : points[0]! + L;
      const gap = cur - prev;
      if (gap > 0) {
        let j = bestGap.length;
        while (j > 0 && bestGap[j - 1]! < gap) j--;
        if (j < GAP_CANDIDATES) {
          bestGap.splice(j, 0, gap);
          bestMid.splice(j, 0, (prev + Math.floor(gap / 2)) % L);
          if (bestGap.length > GAP_CANDIDATES) {
            bestGap.pop();
            bestMid.pop();
          }
        }
      }
      prev = cur;
    }
    for (const m of bestMid) candidates.push(m);
  }
  // Tent peaks: the separable lanes left out (coarsest first), then the coarsest inseparable ones.
  const tents = leftOut.slice(0, TENT_CANDIDATES);
  for (let k = 0; k < nIns; k++) {
    const i = ins[k]!;
    let j = tents.length;
    while (j > 0 && (G[tents[j - 1]!]! < G[i]! || (G[tents[j - 1]!] === G[i] && R[tents[j - 1]!]! > R[i]!)))
      j--;
    if (j >= TENT_CANDIDATES || (j > 0 && G[tents[j - 1]!] === G[i] && R[tents[j - 1]!] === R[i])) continue;
    tents.splice(j, 0, i);
    if (tents.length > TENT_CANDIDATES) tents.pop();
  }
  for (const i of tents) candidates.push((R[i]! + Math.floor(G[i]! / 2)) % G[i]!);

  // First level: distance to the union of the included lattices, and to each lane left out.
  const first: number[] = new Array(candidates.length);
  let top = -1;
  for (let c = 0; c < candidates.length; c++) {
    const phi = candidates[c]!;
    const v = minOver(phi, G, R, leftOut, leftOut.length, count > 0 ? nearest(points, L, phi) : Infinity);
    first[c] = v;
    if (v > top) top = v;
  }
  // Second level, among the candidates that tie on the first.
  let best = -1;
  let bestAll = -1;
  for (let c = 0; c < candidates.length; c++) {
    if (first[c] !== top) continue;
    const phi = candidates[c]!;
    const all = pinned ? 0 : minOver(phi, G, R, ins, nIns, top);
    if (all > bestAll || (all === bestAll && phi < best)) {
      best = phi;
      bestAll = all;
    }
  }
  return best;
}
