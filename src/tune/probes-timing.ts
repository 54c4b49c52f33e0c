// Findings from a measured TimingSample (`tune check --measure`). Neither has a fix tune can apply:
// they say what the host's own timing allows, and what the engines do about it.
import { type Finding, ok } from './finding.js';
import type { TimingSample } from './timing-sample.js';

/** A wake-up later than this needs a spin margin past the engines' old fixed 30 µs. */
const WAKE_P99_WARN_US = 25;
/** Gaps of ≥ 20 µs this often, or this share of the time lost, make 100 µs lanes late. */
const LONG_GAPS_WARN_PER_SEC = 50;
const LOST_SHARE_WARN = 0.01;

export function probeTimerWakeup(t: TimingSample): Finding {
  const w = t.wakeLateUs;
  const current = `timed sleeps end ${w.p50} µs late (p50), ${w.p99} µs (p99), ${w.max} µs (max) on CPU ${t.core}${t.pinned ? '' : ' (not pinned)'}`;
  const recommended = `p99 ≤ ${WAKE_P99_WARN_US} µs`;
  if (w.p99 <= WAKE_P99_WARN_US) return ok('timing.wakeup', current, recommended);
  return {
    id: 'timing.wakeup',
    status: 'warn',
    current,
    recommended: `${recommended}; until then every sender must spin ~${Math.ceil(w.p99 + 5)} µs before each boundary`,
    fix: `keep the agent's --spin-us auto (learns it) and let --max-spin-us cover ${Math.ceil(w.p99 + 5)} µs on a core of its own`,
    fixKind: 'manual',
  };
}

export function probeCpuGaps(t: TimingSample): Finding {
  const current = `a spinning thread lost ${(t.lostShare * 100).toFixed(1)} % of its time: ${t.gapsPerSec} gaps/s over 3 µs, ${t.longGapsPerSec}/s of 20 µs or more, longest ${t.longestGapUs} µs`;
  const recommended = `< ${LONG_GAPS_WARN_PER_SEC} gaps/s of 20 µs or more, < ${LOST_SHARE_WARN * 100} % lost`;
  if (t.longGapsPerSec < LONG_GAPS_WARN_PER_SEC && t.lostShare < LOST_SHARE_WARN)
    return ok('timing.gaps', current, recommended);
  return {
    id: 'timing.gaps',
    status: 'warn',
    current,
    recommended: `${recommended}: a lane boundary inside a gap leaves late by the rest of it, whatever the engine does`,
    fix: 'find what takes the CPU: the scheduler tick (nohz_full), IRQs (irq.affinity), or the hypervisor (a dedicated vCPU; bench/c/gap-probe.c shows whether the gaps come at a fixed rhythm)',
    fixKind: 'manual',
  };
}
