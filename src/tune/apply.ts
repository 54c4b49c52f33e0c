// `xlane tune apply` and `xlane tune revert`. Apply is all-or-nothing: originals are saved first,
// and a failing change rolls back every change already made before the error is reported.
import { XlaneError } from '../errors.js';
import { audit, type TuneTarget } from './check.js';
import type { CommandRunner } from './command-runner.js';
import type { CoreChoice } from './core-choice.js';
import type { Finding } from './finding.js';
import { type HostFs, removeFile } from './host-fs.js';
import { type Change, describeChange, type PlanOptions, planChanges } from './plan.js';
import { kernelCmdlineAdvice } from './probes.js';
import { selectedOption } from './probes-kernel.js';
import {
  currentBootId,
  defaultStateFile,
  readState,
  recordBoot,
  recordFile,
  type SavedChange,
  type StaleRecord,
  setAsideStale,
  writeState,
} from './tune-state.js';

export interface ApplyOptions extends TuneTarget, PlanOptions {
  dryRun?: boolean;
  stateFile?: string;
  /** Whether the caller may change the live machine; defaults to uid 0. */
  isRoot?: boolean;
}

export interface ApplyResult {
  dryRun: boolean;
  core: number;
  coreReason: string;
  stateFile: string;
  /** Finding ids with at least one change made (or planned, for a dry run). */
  applied: string[];
  changes: { id: string; action: string }[];
  /** Best-effort changes the kernel refused (nothing changed for them). */
  refused: { id: string; action: string; error: string }[];
  kernelCmdline: string;
  findings: Finding[];
  /** A record of another boot that was at the state file, set aside before this apply. */
  staleRecord?: StaleRecord;
}

function ensureRoot(fs: HostFs, isRoot: boolean | undefined, verb: string): void {
  const root = isRoot ?? process.getuid?.() === 0;
  if (fs.root === '/' && !root)
    throw new XlaneError(
      'XL_ERR_NOT_ROOT',
      `xlane tune ${verb} changes kernel settings and must run as root (or use --root DIR with a fake tree)`,
    );
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function doChange(fs: HostFs, runner: CommandRunner, c: Change): void {
  if (c.kind === 'file') {
    fs.writeFile(c.path, c.value);
    return;
  }
  const r = runner.run(c.run);
  if (r.code !== 0) throw new Error(`${c.run.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
}

function undoChange(fs: HostFs, runner: CommandRunner, c: SavedChange): void {
  if (c.kind === 'file') {
    fs.writeFile(c.path, c.restore ?? c.original ?? '');
    return;
  }
  const r = runner.run(c.undo);
  if (r.code !== 0) throw new Error(`${c.undo.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
}

function withOriginals(fs: HostFs, changes: Change[]): SavedChange[] {
  const out: SavedChange[] = [];
  for (const c of changes) {
    if (c.kind !== 'file') {
      out.push(c);
      continue;
    }
    const original = fs.readFile(c.path);
    if (original === undefined) continue;
    // Selector files ("always [madvise] never") accept only the bare option back.
    const restore = /\[[^\]]+\]/.test(original) ? selectedOption(original) : original;
    out.push({ ...c, original, restore });
  }
  return out;
}

function result(
  dryRun: boolean,
  choice: CoreChoice,
  stateFile: string,
  done: SavedChange[],
  refused: ApplyResult['refused'],
  findings: Finding[],
  staleRecord?: StaleRecord,
): ApplyResult {
  return {
    dryRun,
    core: choice.core,
    coreReason: choice.reason,
    stateFile,
    applied: [...new Set(done.map((c) => c.id))],
    changes: done.map((c) => ({ id: c.id, action: describeChange(c) })),
    refused,
    kernelCmdline: kernelCmdlineAdvice(findings),
    findings,
    ...(staleRecord ? { staleRecord } : {}),
  };
}

export function applyTuning(fs: HostFs, runner: CommandRunner, opts: ApplyOptions = {}): ApplyResult {
  const stateFile = opts.stateFile ?? defaultStateFile(fs.root);
  if (!opts.dryRun) ensureRoot(fs, opts.isRoot, 'apply');
  const { facts, choice, findings } = audit(fs, runner, opts);
  const plan = planChanges(facts, choice, findings, opts);
  if (opts.dryRun) return result(true, choice, stateFile, plan, [], findings);

  const bootId = currentBootId(fs);
  // An earlier release's record at its old default counts as an earlier record too: its originals
  // may still be in effect, and revert (which finds it there) is what puts them back.
  const earlierFile = recordFile(fs.root, opts.stateFile).file;
  const earlier = readState(earlierFile);
  let staleRecord: StaleRecord | undefined;
  if (earlier) {
    const boot = recordBoot(earlier, bootId);
    if (boot === 'stale' && bootId !== undefined) staleRecord = setAsideStale(earlierFile, earlier, bootId);
    else
      throw new XlaneError(
        'XL_ERR_TUNE_STATE',
        `${earlierFile} already holds the originals of an earlier apply; run \`xlane tune revert\` first` +
          (boot === 'unknown'
            ? ' (it names no boot: if the host rebooted since it was written, the reboot undid its changes, and it can be removed instead)'
            : ''),
        { stateFile: earlierFile },
      );
  }
  const saved = withOriginals(fs, plan);
  const base = {
    version: 1 as const,
    createdAt: new Date().toISOString(),
    root: fs.root,
    ...(bootId !== undefined ? { bootId } : {}),
    core: choice.core,
  };
  writeState(stateFile, { ...base, nic: choice.nic ?? null, changes: saved });

  const done: SavedChange[] = [];
  const refused: ApplyResult['refused'] = [];
  for (const c of saved) {
    try {
      doChange(fs, runner, c);
      done.push(c);
    } catch (e) {
      if (c.kind === 'file' && c.bestEffort) {
        refused.push({ id: c.id, action: describeChange(c), error: errorText(e) });
        continue;
      }
      const rollbackErrors = rollback(fs, runner, done);
      if (rollbackErrors.length === 0) removeFile(stateFile);
      throw new XlaneError(
        'XL_ERR_TUNE_APPLY',
        `${describeChange(c)} failed (${errorText(e)}); ${done.length} earlier change(s) restored` +
          (rollbackErrors.length ? `, but ${rollbackErrors.length} could not be: see ${stateFile}` : ''),
        { failed: { id: c.id, action: describeChange(c) }, restored: done.length, rollbackErrors, stateFile },
      );
    }
  }
  // Keep only what really changed, so revert never re-writes a file the kernel refused to change.
  writeState(stateFile, { ...base, nic: choice.nic ?? null, changes: done });
  return result(false, choice, stateFile, done, refused, findings, staleRecord);
}

function rollback(fs: HostFs, runner: CommandRunner, done: SavedChange[]): string[] {
  const errors: string[] = [];
  for (const c of [...done].reverse()) {
    try {
      undoChange(fs, runner, c);
    } catch (e) {
      errors.push(`${c.kind === 'file' ? c.path : c.undo.join(' ')}: ${errorText(e)}`);
    }
  }
  return errors;
}

export interface RevertResult {
  stateFile: string;
  /** The record was the one an earlier release left at its old default (legacyStateFile). */
  legacy?: boolean;
  restored: { id: string; action: string }[];
  /** Set when the record was another boot's: nothing was restored, and the record was set aside. */
  staleRecord?: StaleRecord;
}

export function revertTuning(
  fs: HostFs,
  runner: CommandRunner,
  opts: { stateFile?: string; isRoot?: boolean } = {},
): RevertResult {
  ensureRoot(fs, opts.isRoot, 'revert');
  const { file: stateFile, legacy } = recordFile(fs.root, opts.stateFile);
  const was = legacy ? { legacy } : {};
  const state = readState(stateFile);
  if (!state)
    throw new XlaneError('XL_ERR_NOT_FOUND', `nothing to revert: ${stateFile} does not exist`, { stateFile });
  if (state.root !== fs.root)
    throw new XlaneError(
      'XL_ERR_TUNE_STATE',
      `${stateFile} was written for root ${state.root}, not ${fs.root}`,
      {
        stateFile,
      },
    );
  // The reboot already put every setting back to what this boot starts with; the record's
  // originals are an older boot's and may be wrong now (another kernel, another sysctl.d).
  const bootId = currentBootId(fs);
  if (bootId !== undefined && recordBoot(state, bootId) === 'stale')
    return { stateFile, ...was, restored: [], staleRecord: setAsideStale(stateFile, state, bootId) };
  const failed: SavedChange[] = [];
  const errors: string[] = [];
  const restored: RevertResult['restored'] = [];
  for (const c of [...state.changes].reverse()) {
    try {
      undoChange(fs, runner, c);
      restored.push({
        id: c.id,
        action: c.kind === 'file' ? `echo ${c.restore?.trim()} > ${c.path}` : c.undo.join(' '),
      });
    } catch (e) {
      failed.unshift(c);
      errors.push(errorText(e));
    }
  }
  if (failed.length) {
    writeState(stateFile, { ...state, changes: failed });
    throw new XlaneError(
      'XL_ERR_TUNE_APPLY',
      `${failed.length} setting(s) could not be restored: ${errors.join('; ')}`,
      {
        stateFile,
        errors,
      },
    );
  }
  removeFile(stateFile);
  return { stateFile, ...was, restored };
}
