// The native engine locks the memory its thread touches (mlock, best effort): what it needs, what
// RLIMIT_MEMLOCK allows, and the agent's start-up warning when the lock was refused.
import { readFileSync } from 'node:fs';

/** What the native engine mlocks: its shared block, its struct and its private mapping (lane
 * tables, receive buffers, stack), whatever the number of lanes; VmLck of a running engine, which
 * test/agent/mlock-warning.test.ts measures against this figure. The addon does not report it. */
export const NATIVE_ENGINE_LOCKED_BYTES = 5444 * 1024;

/** RLIMIT_MEMLOCK's soft limit in bytes, as /proc/self/limits shows it; undefined if unreadable. */
export function memlockLimit(limits?: string): number | 'unlimited' | undefined {
  let text = limits;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const soft = /^Max locked memory\s+(\S+)/m.exec(text)?.[1];
  if (soft === 'unlimited') return soft;
  const n = Number(soft);
  return soft !== undefined && Number.isSafeInteger(n) ? n : undefined;
}

const mib = (bytes: number) =>
  bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`;

/** The start-up warning when the native engine could not lock its memory: what it needs, what the
 * limit allows, and where to raise it. */
export function memoryNotLockedWarning(
  mlockError: string,
  limit: number | 'unlimited' | undefined,
): { fields: Record<string, unknown>; msg: string } {
  const allows =
    limit === undefined
      ? 'RLIMIT_MEMLOCK (unknown here) allows less'
      : limit === 'unlimited'
        ? 'RLIMIT_MEMLOCK is unlimited, so the refusal came from elsewhere'
        : `RLIMIT_MEMLOCK allows ${mib(limit)}`;
  return {
    fields: {
      error: mlockError,
      needBytes: NATIVE_ENGINE_LOCKED_BYTES,
      ...(limit !== undefined ? { memlockLimitBytes: limit } : {}),
    },
    msg:
      `engine memory not locked (mlock: ${mlockError}): the engine thread may page-fault on the packet path. ` +
      `It locks about ${mib(NATIVE_ENGINE_LOCKED_BYTES)}; ${allows}. Raise the limit: LimitMEMLOCK= in ` +
      'the systemd unit (the shipped one sets 16M; docs/deploy.md), or `ulimit -l` before starting it',
  };
}
