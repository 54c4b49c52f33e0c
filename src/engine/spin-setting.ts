// The engines' spin margin option, shared by the js and the native engine: `spinUs` is a fixed
// margin in µs or 'auto' (the default), which learns the margin from how late the engine's own
// timed sleeps end (wake-margin.ts, native/wake_margin.h), within [AUTO_SPIN_MIN, maxSpinUs].

import { XlaneError } from '../errors.js';
import { AUTO_SPIN_MAX_NS, AUTO_SPIN_MIN_NS } from './wake-margin.js';

export type SpinSetting = number | 'auto';

/** Where a learned margin starts, and the fixed margin of earlier versions (docs/machine-facts.md: 30 µs). */
export const INITIAL_SPIN_NS = 30_000;
const MAX_SPIN_US = 10_000;

/** The cap of a learned margin where one machine's few CPUs carry every emulated host, the switch
 * and the cross traffic (the testbed's agents, the interference and fd benches): the fixed margin
 * of earlier versions, so no engine there spins longer than it used to. */
export const SHARED_CPU_MAX_SPIN_US = 30;

export interface SpinMargin {
  auto: boolean;
  /** The fixed margin, or where a learned one starts (ns). */
  initialNs: number;
  minNs: number;
  maxNs: number;
}

/** The spin margin an engine uses before boundaries and deadlines, and what it learned it from. */
export interface SpinStats {
  /** Learned (spinUs 'auto') or fixed. */
  auto: boolean;
  marginNs: number;
  /** Timed sleeps toward a boundary or deadline whose lateness was measured (auto only). */
  wakeSamples: number;
  /** The 99.9th percentile of that lateness over the last 1,024 sleeps (the upper edge of its µs
   * bucket, ns); -1 before the first estimate. */
  wakeLateQuantileNs: number;
}

/** SpinStats in µs, as benches and the agent's metrics report it. */
export interface SpinReport {
  auto: boolean;
  marginUs: number;
  wakeSamples: number;
  /** The learned 99.9th percentile of the wake-up lateness (µs); null before the first estimate
   * or with a fixed margin. */
  wakeLateP999Us: number | null;
}

export function spinReport(s: SpinStats): SpinReport {
  return {
    auto: s.auto,
    marginUs: s.marginNs / 1000,
    wakeSamples: s.wakeSamples,
    wakeLateP999Us: s.wakeLateQuantileNs < 0 ? null : s.wakeLateQuantileNs / 1000,
  };
}

/** What is wrong with the two options (empty: nothing). */
export function spinSettingErrors(spinUs: unknown, maxSpinUs: unknown): string[] {
  const errors: string[] = [];
  const inRange = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_SPIN_US;
  if (spinUs !== undefined && spinUs !== 'auto' && !inRange(spinUs))
    errors.push(`spinUs must be 'auto' or 0..${MAX_SPIN_US} µs, not ${String(spinUs)}`);
  if (maxSpinUs !== undefined && !inRange(maxSpinUs))
    errors.push(`maxSpinUs must be 0..${MAX_SPIN_US} µs, not ${String(maxSpinUs)}`);
  if (maxSpinUs !== undefined && typeof spinUs === 'number')
    errors.push("maxSpinUs bounds a learned margin: it needs spinUs 'auto'");
  return errors;
}

/** The margin the options ask for (they must have passed spinSettingErrors). */
export function spinMarginOf(spinUs: SpinSetting | undefined, maxSpinUs: number | undefined): SpinMargin {
  if (typeof spinUs === 'number') {
    const ns = Math.round(spinUs * 1000);
    return { auto: false, initialNs: ns, minNs: ns, maxNs: ns };
  }
  const maxNs = maxSpinUs === undefined ? AUTO_SPIN_MAX_NS : Math.round(maxSpinUs * 1000);
  return {
    auto: true,
    initialNs: Math.min(INITIAL_SPIN_NS, maxNs),
    minNs: Math.min(AUTO_SPIN_MIN_NS, maxNs),
    maxNs,
  };
}

/** A CLI value of --spin-us: 'auto' or a number of µs (its range is spinSettingErrors' to check). */
export function parseSpinSetting(text: string): SpinSetting {
  const t = text.trim();
  if (t === 'auto') return 'auto';
  const us = Number(t);
  if (t === '' || !Number.isFinite(us))
    throw new XlaneError('XL_ERR_VALIDATION', `--spin-us must be auto or a number of µs, not "${text}"`);
  return us;
}
