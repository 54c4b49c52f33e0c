// The incarnation a host's heartbeats carry (u32 on the wire). It must grow across agent restarts,
// so receivers tell a restarted member from a late frame of the old one. Two sources, the larger
// wins: the wall clock in seconds (survives a lost state file, e.g. /run wiped at reboot) and the
// last value used + 1 from a small file next to the agent's socket (survives a restart within the
// same second, or a clock stepped back). Either alone has a hole; together a restart always counts up.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { XlaneError } from '../errors.js';

export const MAX_INCARNATION = 0xffffffff;

export function nextIncarnation(previous: number | undefined, nowMs: number): number {
  const byClock = Math.floor(nowMs / 1000);
  const byFile = previous !== undefined && Number.isInteger(previous) && previous >= 0 ? previous + 1 : 0;
  const n = Math.max(byClock, byFile);
  if (n > MAX_INCARNATION) {
    throw new XlaneError('XL_ERR_INTERNAL', `incarnation ${n} does not fit the wire's u32`, {
      incarnation: n,
    });
  }
  return n;
}

/** Takes the next incarnation and records it in `path` (best effort: `warn` says why not). */
export function claimIncarnation(
  path: string | undefined,
  nowMs: number = Date.now(),
  warn: (msg: string) => void = () => {},
): number {
  let previous: number | undefined;
  if (path !== undefined) {
    try {
      const n = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(n) && n >= 0) previous = n;
      else warn(`${path} does not hold an incarnation; using the clock`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        warn(`cannot read ${path}: ${(err as Error).message}`);
    }
  }
  const n = nextIncarnation(previous, nowMs);
  if (path !== undefined) {
    try {
      const tmp = `${path}.tmp-${process.pid}`;
      writeFileSync(tmp, `${n}\n`, { mode: 0o644 });
      renameSync(tmp, path);
    } catch (err) {
      warn(`cannot record incarnation ${n} in ${path}: ${(err as Error).message}`);
    }
  }
  return n;
}
