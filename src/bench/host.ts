// `xlane bench host`: jitter of the lane core before and after `tune apply`, in one run, then revert.
// The after phase always ends with a revert (also on Ctrl-C), so the bench leaves the host as it was.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XlaneError } from '../errors.js';
import { applyTuning, revertTuning } from '../tune/apply.js';
import { RealCommandRunner } from '../tune/command-runner.js';
import { resolveCore } from '../tune/core-choice.js';
import { createHostFs } from '../tune/host-fs.js';
import { onExitSignal } from '../util/exit-signals.js';
import { type LatencySummary, runCyclictest } from './host-cyclictest.js';
import { ChildPacingProbe, type PacingProbe } from './host-pacing.js';

export interface HostPhase {
  cyclictestUs: LatencySummary;
  pacingErrUs: LatencySummary;
}

export interface HostBenchResult {
  before: HostPhase;
  after: HostPhase;
  applied: string[];
}

export interface HostBenchOptions {
  core?: number;
  nic?: string;
  seconds: number;
  probe?: PacingProbe;
  /** Progress lines go here (stderr in the CLI), never into the JSON. */
  log?: (line: string) => void;
}

async function measure(core: number, seconds: number, probe: PacingProbe): Promise<HostPhase> {
  // One after the other: both on the same core at once would measure each other.
  const cyclictestUs = await runCyclictest(core, seconds);
  const pacingErrUs = await probe.measure(core, seconds);
  return { cyclictestUs, pacingErrUs };
}

export async function runHostBench(opts: HostBenchOptions): Promise<HostBenchResult> {
  if (process.getuid?.() !== 0)
    throw new XlaneError(
      'XL_ERR_NOT_ROOT',
      'xlane bench host runs cyclictest at RT priority and tune apply: run as root',
    );
  const log = opts.log ?? (() => {});
  const fs = createHostFs('/');
  const runner = new RealCommandRunner();
  const probe = opts.probe ?? new ChildPacingProbe();
  const target = {
    ...(opts.core === undefined ? {} : { core: opts.core }),
    ...(opts.nic ? { nic: opts.nic } : {}),
  };
  const choice = resolveCore(fs, target);
  log(`lane core: ${choice.reason}`);

  log(`before: cyclictest + ${probe.name}, ${opts.seconds} s each`);
  const before = await measure(choice.core, opts.seconds, probe);

  const dir = mkdtempSync(join(tmpdir(), 'xlane-bench-host-'));
  const stateFile = join(dir, 'tune-state.json');
  const restore = () => {
    if (existsSync(stateFile)) revertTuning(fs, runner, { stateFile });
    rmSync(dir, { recursive: true, force: true });
  };
  const offSignals = onExitSignal(restore);
  try {
    const applied = applyTuning(fs, runner, { core: choice.core, ...target, stateFile });
    log(`applied: ${applied.applied.join(', ') || 'nothing'}`);
    log(`after: cyclictest + ${probe.name}, ${opts.seconds} s each`);
    const after = await measure(choice.core, opts.seconds, probe);
    return { before, after, applied: applied.applied };
  } finally {
    offSignals();
    restore();
    log('reverted');
  }
}
