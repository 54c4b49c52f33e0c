// `xlane tune check`: read-only audit of the lane core's jitter sources.
import type { CommandRunner } from './command-runner.js';
import { type CoreChoice, resolveCore } from './core-choice.js';
import { type HostFacts, readHostFacts } from './facts.js';
import type { Finding } from './finding.js';
import type { HostFs } from './host-fs.js';
import { kernelCmdlineAdvice, runProbes } from './probes.js';
import { inspectRecord, type RecordStatus, recordFile } from './tune-state.js';

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
  /** The record of `tune apply` at the state file: whether an apply of this boot is in effect. */
  record: RecordStatus;
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

export function runCheck(
  fs: HostFs,
  runner: CommandRunner,
  target: TuneTarget = {},
  opts: { stateFile?: string } = {},
): CheckResult {
  const { choice, findings } = audit(fs, runner, target);
  const { file, legacy } = recordFile(fs.root, opts.stateFile);
  return {
    root: fs.root,
    core: choice.core,
    coreNode: choice.node,
    coreReason: choice.reason,
    nic: choice.nic ?? null,
    findings,
    kernelCmdline: kernelCmdlineAdvice(findings),
    record: { ...inspectRecord(fs, file), ...(legacy ? { legacy } : {}) },
  };
}
