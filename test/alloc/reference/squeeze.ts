// The bisection as it was before its steps were made cheap (src/alloc/squeeze.ts as of 595f9e9,
// only the import paths changed): every step sets every lane through setRate and runs a full
// assess. The reference the differential test (../squeeze-differential.test.ts) holds the live
// code to, bit for bit. Not used by the allocator.
// Adjustment: when a state does not fit, lanes that allow it are squeezed by one common factor
// f ∈ [0,1] (σ toward minPayloadBytes, π toward maxPeriodNs); on release the squeezed lanes are eased
// back by the same rule. Bisection finds the smallest feasible f: load only falls as f grows.
import { assess, type Infeasibility } from '../../../src/alloc/feasibility.js';
import { type FabricState, factorOf, type LaneRec, squeezed } from '../../../src/alloc/state.js';

const BISECTION_STEPS = 20;

export interface RateSnapshot {
  rec: LaneRec;
  sigma: number;
  pi: number;
  squeeze: number;
}

export function snapshotRates(lanes: Iterable<LaneRec>): RateSnapshot[] {
  const out: RateSnapshot[] = [];
  for (const rec of lanes) out.push({ rec, sigma: rec.sigma, pi: rec.pi, squeeze: rec.squeeze });
  return out;
}

export function restoreRates(s: FabricState, snap: RateSnapshot[]): void {
  for (const b of snap) s.setRate(b.rec, b.sigma, b.pi, b.squeeze);
}

/** Sets each lane to factor pick(own, f); a lane left at its own factor keeps its exact σ/π. */
function applyFactor(s: FabricState, base: RateSnapshot[], f: number, tighten: boolean): void {
  for (const b of base) {
    const target = tighten ? Math.max(b.squeeze, f) : Math.min(b.squeeze, f);
    if (target === b.squeeze) s.setRate(b.rec, b.sigma, b.pi, b.squeeze);
    else {
      const { sigma, pi } = squeezed(b.rec, target);
      s.setRate(b.rec, sigma, pi, factorOf(b.rec, sigma, pi));
    }
  }
}

export type SqueezeOutcome = { ok: true } | { ok: false; violations: Infeasibility[] };

/** Tightens `lanes` just enough to make the state feasible. On failure their rates are restored
 * and the violations at the tightest setting (f = 1) are returned. The state is left evaluated. */
export function squeezeToFit(s: FabricState, lanes: Iterable<LaneRec>): SqueezeOutcome {
  const base = snapshotRates(lanes);
  if (base.length === 0) return { ok: false, violations: assess(s) };
  applyFactor(s, base, 1, true);
  const atMax = assess(s);
  if (atMax.length > 0) {
    restoreRates(s, base);
    return { ok: false, violations: atMax };
  }
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = (lo + hi) / 2;
    applyFactor(s, base, mid, true);
    if (assess(s).length === 0) hi = mid;
    else lo = mid;
  }
  applyFactor(s, base, hi, true);
  assess(s);
  return { ok: true };
}

/** Eases every squeezed lane back toward its request: the smallest common cap on the squeeze
 * factors that keeps the (feasible) state feasible. Leaves the state evaluated. */
export function relax(s: FabricState): void {
  const squeezedLanes = [...s.squeezedLanes];
  let fMax = 0;
  for (const rec of squeezedLanes) if (rec.squeeze > fMax) fMax = rec.squeeze;
  if (squeezedLanes.length === 0) {
    assess(s);
    return;
  }
  const base = snapshotRates(squeezedLanes);
  applyFactor(s, base, 0, false);
  if (assess(s).length === 0) return;
  let lo = 0;
  let hi = fMax;
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = (lo + hi) / 2;
    applyFactor(s, base, mid, false);
    if (assess(s).length === 0) hi = mid;
    else lo = mid;
  }
  applyFactor(s, base, hi, false);
  if (assess(s).length > 0) {
    // Float noise at the edge: fall back to the squeeze we came with, which was feasible.
    restoreRates(s, base);
    assess(s);
  }
}
