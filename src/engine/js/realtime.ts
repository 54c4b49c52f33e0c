// Gives the js engine's pacing worker a CPU and a real-time policy. JavaScript has neither
// sched_setaffinity nor sched_setscheduler, so this asks util-linux's taskset and chrt (one process
// each, through the tune's command runner, once per engine start) for the worker's thread id. On a
// machine whose CPUs are shared with other busy threads, SCHED_FIFO is what keeps the worker from
// being preempted in the last microseconds before a boundary (docs/benchmarks.md).
import { RealCommandRunner } from '../../tune/command-runner.js';

const runner = new RealCommandRunner();

export interface ThreadPolicy {
  /** The worker's kernel thread id (0: unknown). */
  tid: number;
  /** CPU the worker is pinned to (-1: not pinned). */
  core: number;
  /** SCHED_FIFO priority in force (0: SCHED_OTHER). */
  fifoPriority: number;
  /** Why the asked placement or policy could not be set. */
  error?: string;
}

/** Sets SCHED_FIFO at `priority` on thread `tid`; returns an error text instead of throwing. */
export function setThreadFifo(tid: number, priority: number): string | undefined {
  return run(tid, 'chrt', ['--fifo', '--pid', String(priority), String(tid)]);
}

/** Pins thread `tid` to CPU `core`; returns an error text instead of throwing. */
export function pinThread(tid: number, core: number): string | undefined {
  return run(tid, 'taskset', ['--pid', '--cpu-list', String(core), String(tid)]);
}

function run(tid: number, tool: string, args: string[]): string | undefined {
  if (!(tid > 0)) return 'the pacing worker did not publish its thread id';
  const r = runner.run([tool, ...args]);
  return r.code === 0 ? undefined : `${tool}: ${r.stderr.trim() || `exit ${r.code}`}`;
}
