// sysctl-style kernel knobs and memory settings that stall a busy core.
import type { HostFacts } from './facts.js';
import { type Finding, ok, skip } from './finding.js';

function knobProbe(f: HostFacts, id: string, knob: string, want: string, why: string): Finding {
  const v = f.kernel[knob];
  if (v === undefined) return skip(id, `kernel.${knob} not exposed`, `${knob}=${want}`);
  if (v === want) return ok(id, `${knob}=${v}`, `${knob}=${want}`);
  return {
    id,
    status: 'warn',
    current: `${knob}=${v}`,
    recommended: `${knob}=${want} (${why})`,
    fix: `sysctl -w kernel.${knob}=${want}`,
    fixKind: 'runtime',
  };
}

export function probeKernel(f: HostFacts): Finding[] {
  return [
    knobProbe(f, 'watchdog.soft', 'soft_watchdog', '0', 'the soft-lockup timer fires on every core'),
    knobProbe(f, 'watchdog.nmi', 'nmi_watchdog', '0', 'NMIs interrupt the lane core periodically'),
    knobProbe(
      f,
      'rt.throttling',
      'sched_rt_runtime_us',
      '-1',
      'a spinning RT thread is paused ~50 ms every second',
    ),
  ];
}

export function probeTimerSlack(f: HostFacts): Finding {
  const id = 'timer.slack';
  const v = f.timerSlackNs;
  if (v === undefined || !Number.isFinite(v)) return skip(id, 'timerslack_ns not exposed');
  const current = `${v} ns (default for new processes)`;
  if (v <= 1000) return ok(id, current, '≤ 1000 ns');
  return {
    id,
    status: 'warn',
    current,
    recommended: '1 ns on the lane thread (each sleep otherwise ends up to the slack late)',
    fix: 'the engine sets prctl(PR_SET_TIMERSLACK, 1) on its thread; other processes: echo 1 > /proc/PID/timerslack_ns',
    fixKind: 'manual',
  };
}

export function selectedOption(selector: string): string {
  return /\[([^\]]+)\]/.exec(selector)?.[1] ?? selector.trim();
}

export function probeThp(f: HostFacts): Finding {
  const id = 'thp.enabled';
  if (f.thp === undefined) return skip(id, 'transparent hugepages not exposed');
  const v = selectedOption(f.thp);
  if (v !== 'always') return ok(id, v, 'madvise or never');
  return {
    id,
    status: 'warn',
    current: v,
    recommended: 'madvise (khugepaged compaction stalls the core otherwise)',
    fix: 'echo madvise > /sys/kernel/mm/transparent_hugepage/enabled',
    fixKind: 'runtime',
  };
}

export function probeSwap(f: HostFacts): Finding {
  const id = 'swap';
  if (f.swaps.length === 0) return ok(id, 'no swap', 'no swap (or the engine mlocks its memory)');
  return {
    id,
    status: 'warn',
    current: `${f.swaps.length} swap area(s): ${f.swaps.map((s) => s.split(/\s+/)[0]).join(', ')}`,
    recommended: 'no swap, or the native engine mlocks what its thread touches (lockMemory)',
    fix: 'swapoff -a',
    fixKind: 'manual',
  };
}
