// Whether this process may change traffic control: CAP_NET_ADMIN (bit 12) in the effective set.
import { readFileSync } from 'node:fs';

const CAP_NET_ADMIN = 12n;

/** Parses /proc/self/status text; false when the CapEff line is missing or unreadable. */
export function hasNetAdmin(statusText: string): boolean {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText);
  if (!m) return false;
  return ((BigInt(`0x${m[1]}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

export function processHasNetAdmin(statusPath = '/proc/self/status'): boolean {
  try {
    return hasNetAdmin(readFileSync(statusPath, 'utf8'));
  } catch {
    return false;
  }
}
