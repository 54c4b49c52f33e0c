// The crash of `xlane bench fd`: SIGKILL of a member's process, its time taken right before on the
// shared CLOCK_MONOTONIC. The time only means something if nothing runs between the clock read
// and the kill() — yet the engines under test may run at SCHED_FIFO and would preempt this
// process right there (seen: crash times 5–30 ms early). So, when it can (root, `chrt` from
// util-linux), the bench lifts its own main thread to SCHED_FIFO 99 for the two calls and back to
// SCHED_OTHER after. The clock is read again when kill() has returned: the crash lies between.
import { execFileSync } from 'node:child_process';
import { monotonicNs } from '../engine/clock.js';

export interface Crash {
  /** Right before kill(), and right after it returned. */
  crashNs: number;
  killedNs: number;
  /** Whether the clock read and the kill ran at SCHED_FIFO 99. */
  boosted: boolean;
}

function chrt(args: string[]): boolean {
  try {
    execFileSync('chrt', [...args, String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function crash(pid: number): Crash {
  const boosted = chrt(['-f', '-p', '99']);
  try {
    const crashNs = monotonicNs();
    process.kill(pid, 'SIGKILL');
    const killedNs = monotonicNs();
    return { crashNs, killedNs, boosted };
  } finally {
    if (boosted) chrt(['-o', '-p', '0']);
  }
}
