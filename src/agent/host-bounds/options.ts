// `xlane agent --host-bounds declared|measure --calibrate-seconds N`, checked before anything starts.
import { XlaneError } from '../../errors.js';
import { MAX_CALIBRATION_SECONDS } from './calibrate.js';
import { type BoundsPolicy, checkPolicy, DEFAULT_BOUNDS_POLICY } from './statistics.js';

/** 'declared': the topology file's bounds, untouched (the default); 'measure': calibrate at start
 * and send the result to the controller. */
export type HostBoundsMode = 'declared' | 'measure';

export function parseHostBoundsMode(s: string): HostBoundsMode {
  if (s === 'declared' || s === 'measure') return s;
  throw new XlaneError('XL_ERR_VALIDATION', `--host-bounds must be declared or measure, not "${s}"`);
}

export function parseCalibrateSeconds(s: string): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n) || n <= 0 || n > MAX_CALIBRATION_SECONDS) {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `--calibrate-seconds must be a number in (0, ${MAX_CALIBRATION_SECONDS}], not "${s}"`,
    );
  }
  return n;
}

/** The policy flags as commander hands them over (strings; keepObservedMax from `--no-bounds-keep-max`). */
export interface BoundsPolicyFlags {
  boundsQuantile?: string;
  boundsFactor?: string;
  boundsSendShare?: string;
  boundsMinFactor?: string;
  boundsKeepMax?: boolean;
}

/** Only the fields given, checked together (XL_ERR_VALIDATION names every bad one). */
export function parseBoundsPolicy(f: BoundsPolicyFlags): Partial<BoundsPolicy> {
  const num = (flag: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n))
      throw new XlaneError('XL_ERR_VALIDATION', `${flag} must be a number, not "${v}"`);
    return n;
  };
  const quantile = num('--bounds-quantile', f.boundsQuantile);
  const safetyFactor = num('--bounds-factor', f.boundsFactor);
  const sendShare = num('--bounds-send-share', f.boundsSendShare);
  const minFactor = num('--bounds-min-factor', f.boundsMinFactor);
  const out: Partial<BoundsPolicy> = {
    ...(quantile !== undefined ? { quantile } : {}),
    ...(safetyFactor !== undefined ? { safetyFactor } : {}),
    ...(sendShare !== undefined ? { sendShare } : {}),
    ...(minFactor !== undefined ? { minFactor } : {}),
    ...(f.boundsKeepMax === false ? { keepObservedMax: false } : {}),
  };
  checkPolicy({ ...DEFAULT_BOUNDS_POLICY, ...out });
  return out;
}
