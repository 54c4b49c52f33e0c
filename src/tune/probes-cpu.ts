// Frequency scaling and idle states of the lane core, and other work scheduled on it.
import type { HostFacts } from './facts.js';
import { type Finding, ok, skip } from './finding.js';

/** Idle states deeper than this take longer to leave than a lane's latency budget allows. */
export const MAX_IDLE_EXIT_US = 10;

export function probeGovernor(f: HostFacts, core: number): Finding {
  const id = 'cpu.governor';
  const g = f.governor(core);
  if (g.current === undefined) return skip(id, 'cpufreq not exposed (fixed frequency or virtual CPU)');
  if (g.current === 'performance') return ok(id, g.current, 'performance');
  const can = g.available.length === 0 || g.available.includes('performance');
  return {
    id,
    status: 'warn',
    current: g.current,
    recommended: can
      ? 'performance (no frequency ramp-up on wake)'
      : 'performance (not offered by this driver)',
    fix: can ? `echo performance > /sys/devices/system/cpu/cpu${core}/cpufreq/scaling_governor` : '',
    fixKind: can ? 'runtime' : 'manual',
  };
}

export function deepIdleStates(f: HostFacts, core: number) {
  return f.idleStates(core).filter((s) => s.latencyUs > MAX_IDLE_EXIT_US && !s.disabled);
}

export function probeIdle(f: HostFacts, core: number): Finding {
  const id = 'cpu.idle';
  const states = f.idleStates(core);
  if (states.length === 0) return skip(id, 'cpuidle not exposed');
  const deep = deepIdleStates(f, core);
  const recommended = `no idle state with exit latency > ${MAX_IDLE_EXIT_US} µs enabled`;
  if (deep.length === 0) return ok(id, `${states.length} states, none deep enabled`, recommended);
  return {
    id,
    status: 'warn',
    current: `enabled: ${deep.map((s) => `${s.name} (${s.latencyUs} µs)`).join(', ')}`,
    recommended,
    fix: deep
      .map((s) => `echo 1 > /sys/devices/system/cpu/cpu${core}/cpuidle/state${s.index}/disable`)
      .join('; '),
    fixKind: 'runtime',
  };
}

/** Per-CPU kernel threads (ksoftirqd/3, migration/3…) belong to every core; they are not "other work". */
function isPerCpuKthread(comm: string): boolean {
  return /\/\d+$/.test(comm) || comm.startsWith('kworker/');
}

export function probeBusy(f: HostFacts, core: number): Finding {
  const id = 'core.busy';
  if (!f.processes) return skip(id, 'ps not available');
  const busy = f.processes.filter((p) => p.cpu === core && p.pcpu >= 1 && !isPerCpuKthread(p.comm));
  if (busy.length === 0) return ok(id, `no other busy process on CPU ${core}`, 'none');
  return {
    id,
    status: 'warn',
    current: busy
      .slice(0, 5)
      .map((p) => `${p.comm}[${p.pid}] ${p.pcpu}%`)
      .join(', '),
    recommended: `CPU ${core} reserved for the lane (isolcpus, or move the others away)`,
    fix: busy.map((p) => `taskset -apc <other CPUs> ${p.pid}`).join('; '),
    fixKind: 'manual',
  };
}
