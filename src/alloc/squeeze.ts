// Adjustment: when a state does not fit, lanes that allow it are squeezed by one common factor
// f ∈ [0,1] (σ toward minPayloadBytes, π toward maxPeriodNs); on release the squeezed lanes are eased
// back by the same rule. Bisection finds the smallest feasible f: load only falls as f grows.
//
// Each of the 22 steps sets every candidate's σ/π and asks for a verdict, so with thousands of
// lanes on a port the steps are the admission's cost. They stay cheap without deciding anything
// differently: a step writes σ/π into the bound arrays only (trialRate; the records, squeeze
// factors and Set bookkeeping follow once, for the outcome), and a step whose rates put a port
// already found over its share over it again is refuted by that one exact sum (overShare), without
// a bound pass. A refuted step leaves its ports queued: the next pass takes them with the rest, and
// a pass computes the same bounds from the same lanes whichever steps came before it (evaluate.ts),
// so every verdict, and the outcome, is the one a pass after every step gives.
// test/alloc/squeeze-differential.test.ts holds this to the former code, kept in test/alloc/reference.
import { overShare } from './evaluate.js';
import { assess, type Infeasibility } from './feasibility.js';
import { type FabricState, factorOf, type LaneRec, squeezedPi, squeezedSigma } from './state.js';

const BISECTION_STEPS = 20;

/** The lanes of one bisection, what each started from and what a step needs, in flat arrays: a
 * step reads no lane record. */
class Trial {
  readonly recs: LaneRec[] = [];
  private readonly slot: Int32Array;
  private readonly sigmaReq: Float64Array;
  private readonly sigmaMin: Float64Array;
  private readonly piReq: Float64Array;
  private readonly piMax: Float64Array;
  private readonly sigma0: Float64Array;
  private readonly pi0: Float64Array;
  private readonly f0: Float64Array;
  /** σ the last step set (its π is the state's lanePi). */
  private readonly sigma: Float64Array;
  /** Lane i's ports are ports[portOff[i] .. portOff[i + 1]). */
  private readonly portOff: Int32Array;
  private readonly ports: Int32Array;
  /** Per lane: σ/π moved in some step (so its grant is re-examined at commit, as ever). */
  private readonly touched: Uint8Array;
  /** Ports found over their share, most recent first: likely over again in the next step. */
  readonly watch: number[] = [];

  constructor(lanes: Iterable<LaneRec>) {
    let hops = 0;
    for (const rec of lanes) {
      this.recs.push(rec);
      hops += rec.ports.length;
    }
    const n = this.recs.length;
    this.slot = new Int32Array(n);
    this.sigmaReq = new Float64Array(n);
    this.sigmaMin = new Float64Array(n);
    this.piReq = new Float64Array(n);
    this.piMax = new Float64Array(n);
    this.sigma0 = new Float64Array(n);
    this.pi0 = new Float64Array(n);
    this.f0 = new Float64Array(n);
    this.sigma = new Float64Array(n);
    this.portOff = new Int32Array(n + 1);
    this.ports = new Int32Array(hops);
    this.touched = new Uint8Array(n);
    let off = 0;
    for (let i = 0; i < n; i++) {
      const rec = this.recs[i]!;
      this.slot[i] = rec.slot;
      this.sigmaReq[i] = rec.sigmaReq;
      this.sigmaMin[i] = rec.sigmaMin;
      this.piReq[i] = rec.piReq;
      this.piMax[i] = rec.piMax;
      this.sigma0[i] = rec.sigma;
      this.pi0[i] = rec.pi;
      this.f0[i] = rec.squeeze;
      this.sigma[i] = rec.sigma;
      this.portOff[i] = off;
      for (const p of rec.ports) this.ports[off++] = p;
    }
    this.portOff[n] = off;
  }

  /** Watches the ports over their share in `violations`. */
  watchShares(violations: Infeasibility[]): void {
    for (const v of violations)
      if (v.reason === 'share' && !this.watch.includes(v.port)) this.watch.push(v.port);
  }

  /** Sets each lane's σ/π to factor pick(own, f) in the bound arrays; a lane left at its own factor
   * keeps its exact σ/π. Same σ/π and the same calls as setRate, in the same order. */
  step(s: FabricState, f: number, tighten: boolean): void {
    const { slot, f0, sigma, touched, ports, portOff } = this;
    const lanePi = s.lanePi;
    for (let i = 0; i < slot.length; i++) {
      const own = f0[i]!;
      const target = tighten ? Math.max(own, f) : Math.min(own, f);
      let sg: number;
      let pi: number;
      if (target === own) {
        sg = this.sigma0[i]!;
        pi = this.pi0[i]!;
      } else {
        sg = squeezedSigma(this.sigmaReq[i]!, this.sigmaMin[i]!, target);
        pi = squeezedPi(this.piReq[i]!, this.piMax[i]!, target);
      }
      const sl = slot[i]!;
      if (sg === sigma[i] && pi === lanePi[sl]) continue;
      sigma[i] = sg;
      touched[i] = 1;
      s.trialRate(sl, sg, pi, ports, portOff[i]!, portOff[i + 1]!);
    }
  }

  /** Whether the state with the current step's rates is feasible, as `assess(s).length === 0`. */
  fits(s: FabricState): boolean {
    const watch = this.watch;
    for (let i = 0; i < watch.length; i++) {
      const p = watch[i]!;
      if (overShare(s, p)) {
        if (i > 0) {
          watch.splice(i, 1);
          watch.unshift(p);
        }
        return false;
      }
    }
    const violations = assess(s);
    this.watchShares(violations);
    return violations.length === 0;
  }

  /** Settles every lane at factor pick(own, f) (its own factor when `f` is undefined) through
   * setRate: σ/π, the factor they stand for, squeezedLanes; and rateTouched for every lane any step
   * moved, as setRate in every step would have left it. */
  commit(s: FabricState, f: number | undefined, tighten: boolean): void {
    const { recs, f0 } = this;
    for (let i = 0; i < recs.length; i++) {
      const rec = recs[i]!;
      // The record catches up with the last step (the bound arrays hold it already).
      rec.sigma = this.sigma[i]!;
      rec.pi = s.lanePi[rec.slot]!;
      const own = f0[i]!;
      const target = f === undefined ? own : tighten ? Math.max(own, f) : Math.min(own, f);
      if (target === own) s.setRate(rec, this.sigma0[i]!, this.pi0[i]!, own);
      else {
        const sigma = squeezedSigma(rec.sigmaReq, rec.sigmaMin, target);
        const pi = squeezedPi(rec.piReq, rec.piMax, target);
        s.setRate(rec, sigma, pi, factorOf(rec, sigma, pi));
      }
      if (this.touched[i]) s.rateTouched.add(rec);
    }
  }
}

export type SqueezeOutcome = { ok: true } | { ok: false; violations: Infeasibility[] };

/** Tightens `lanes` just enough to make the state feasible. On failure their rates are restored
 * and the violations at the tightest setting (f = 1) are returned. The state is left evaluated. */
export function squeezeToFit(s: FabricState, lanes: Iterable<LaneRec>): SqueezeOutcome {
  const t = new Trial(lanes);
  if (t.recs.length === 0) return { ok: false, violations: assess(s) };
  // The caller's last pass: its ports over their share are where the load has to come off.
  for (const p of s.overloaded) if (overShare(s, p)) t.watch.push(p);
  t.step(s, 1, true);
  const atMax = assess(s);
  if (atMax.length > 0) {
    t.commit(s, undefined, true);
    return { ok: false, violations: atMax };
  }
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = (lo + hi) / 2;
    t.step(s, mid, true);
    if (t.fits(s)) hi = mid;
    else lo = mid;
  }
  t.commit(s, hi, true);
  assess(s);
  return { ok: true };
}

/** Eases every squeezed lane back toward its request: the smallest common cap on the squeeze
 * factors that keeps the (feasible) state feasible. Leaves the state evaluated. */
export function relax(s: FabricState): void {
  if (s.squeezedLanes.size === 0) {
    assess(s);
    return;
  }
  const t = new Trial(s.squeezedLanes);
  let fMax = 0;
  for (const rec of t.recs) if (rec.squeeze > fMax) fMax = rec.squeeze;
  t.step(s, 0, false);
  if (t.fits(s)) {
    t.commit(s, 0, false);
    return;
  }
  let lo = 0;
  let hi = fMax;
  for (let i = 0; i < BISECTION_STEPS; i++) {
    const mid = (lo + hi) / 2;
    t.step(s, mid, false);
    if (t.fits(s)) hi = mid;
    else lo = mid;
  }
  t.step(s, hi, false);
  if (t.fits(s)) t.commit(s, hi, false);
  else {
    // Float noise at the edge: fall back to the squeeze we came with, which was feasible.
    t.commit(s, undefined, false);
    assess(s);
  }
}
