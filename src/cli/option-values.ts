// Option values the bench commands parse the same way: a finite number, or one word of a fixed set,
// refused with XL_ERR_VALIDATION naming the flag.
import { XlaneError } from '../errors.js';

export function num(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n))
    throw new XlaneError('XL_ERR_VALIDATION', `--${name} must be a number (got "${v}")`);
  return n;
}

export function oneOf<T extends string>(name: string, v: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new XlaneError('XL_ERR_VALIDATION', `--${name} must be one of ${allowed.join(', ')} (got "${v}")`);
}
