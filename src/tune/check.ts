// `xlane tune check`: read-only audit of the lane core's jitter sources.
import type { CommandRunner } from './command-runner.js';
import { type CoreChoice, resolveCore } from './core-choice.js';
import { type HostFacts, readHostFacts } from './facts.js';
import type { Finding } from './finding.js';
import type { HostFs } from './host-fs.js';
import { kernelCmdlineAdvice, runProbes } from './probes.js';

export interface TuneTarget {
  core?: number;
  nic?: string;
}

export interface CheckResult {
  root: string;
  core: number;
  coreNode: number;
  coreReason: string;
  nic: string | null;
  findings: Finding[];
  /** Parameters to add to the kernel command line ('' when nothing is missing). */
  kernelCmdline: string;
}

export interface Audit {
  facts: HostFacts;
  choice: CoreChoice;
  findings: Finding[];
}

export function audit(fs: HostFs, runner: CommandRunner, target: TuneTarget = {}): Audit {
  const choice = resolveCore(fs, target);
  const facts = readHostFacts(fs, runner, choice.nic === undefined ? {} : { nic: choice.nic });
  return { facts, choice, findings: runProbes(facts, choice) };
}

export function runCheck(fs: HostFs, runner: CommandRunner, target: TuneTarget = {}): CheckResult {
  const { choice, findings } = audit(fs, runner, target);
  return {
    root: fs.root,
    core: choice.core,
    coreNode: choice.node,
    coreReason: choice.reason,
    nic: choice.nic ?? null,
    findings,
    kernelCmdline: kernelCmdlineAdvice(findings),
  };
}
