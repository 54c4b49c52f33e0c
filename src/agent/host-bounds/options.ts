// `xlane agent --host-bounds declared|measure --calibrate-seconds N`, checked before anything starts.
import { XlaneError } from '../../errors.js';
import { MAX_CALIBRATION_SECONDS } from './calibrate.js';

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
