// All probes in the order `tune check` prints them.
import type { CoreChoice } from './core-choice.js';
import type { HostFacts } from './facts.js';
import type { Finding } from './finding.js';
import { probeCmdline } from './probes-cmdline.js';
import { probeBusy, probeGovernor, probeIdle } from './probes-cpu.js';
import { probeIrqAffinity, probeIrqbalance, probeNuma } from './probes-irq.js';
import { probeKernel, probeSwap, probeThp, probeTimerSlack } from './probes-kernel.js';
import { probeCoalescing, probeOffloads } from './probes-nic.js';

export function runProbes(f: HostFacts, choice: CoreChoice): Finding[] {
  const core = choice.core;
  return [
    ...probeCmdline(f, core),
    probeIrqAffinity(f, core),
    probeIrqbalance(f),
    probeNuma(f, core, choice.node),
    ...probeKernel(f),
    probeTimerSlack(f),
    probeGovernor(f, core),
    probeIdle(f, core),
    probeThp(f),
    probeCoalescing(f),
    probeOffloads(f),
    probeSwap(f),
    probeBusy(f, core),
  ];
}

/** The kernel parameters to add for the lane core (printed by apply, never written). */
export function kernelCmdlineAdvice(findings: Finding[]): string {
  return findings
    .filter((x) => x.fixKind === 'reboot' && x.status !== 'ok')
    .map((x) => x.fix)
    .join(' ');
}
