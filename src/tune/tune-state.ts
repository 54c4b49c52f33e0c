// The state file: every original value, written before the first change, so `tune revert` (or an
// operator reading it) can restore the machine exactly even after a crash in the middle of apply.
//
// Every change apply makes is a run-time setting (a write under /proc or /sys, `ethtool -C`,
// `systemctl stop`): a reboot undoes them all, but not a record kept on a persistent disk. So the
// record names the boot that made its changes, and a record of another boot is stale: its
// originals must not be written over a fresh boot's values, nor may it block the next apply.
//
// Revert replays the record as root: it writes each recorded value to the recorded path and runs
// the recorded undo commands. Whoever can write the record can therefore run anything as root at
// the next revert, so it lives where only root can write, and root reads no other (readState).
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { BOOT_ID_PATH, bootIdOf } from '../agent/clock-domain.js';
import { XlaneError } from '../errors.js';
import { type HostFs, writeFileAtomic } from './host-fs.js';
import type { Change } from './plan.js';

export type SavedChange = Change & {
  /** Exact bytes before apply (file changes). */
  original?: string;
  /** What revert writes: the original bytes, or the selected word of a selector file. */
  restore?: string;
};

export interface TuneState {
  version: 1;
  createdAt: string;
  root: string;
  /** The kernel's boot id when the changes were made. Absent where the host has none, and in
   * records written before xlane recorded it (see recordBoot). */
  bootId?: string;
  core: number;
  nic: string | null;
  changes: SavedChange[];
}

/**
 * In root's own directory on /run: a tmpfs that the reboot empties, as it undoes every change the
 * record lists. Under a fake root, the same path below it.
 */
export function defaultStateFile(root: string): string {
  return root === '/' ? '/run/xlane-tune/tune-state.json' : join(root, 'run/xlane-tune/tune-state.json');
}

/**
 * Where releases before the move kept the record: in /var/lib/xlane, which the deployed agent's and
 * controller's StateDirectory= hands to the unprivileged xlane user. Only read, never written.
 */
export function legacyStateFile(root: string): string {
  return join(root, 'var/lib/xlane/tune-state.json');
}

/** Whether anything is at the path: 'unknown' when this user may not look (root's directory). */
function lookup(file: string): boolean | 'unknown' {
  try {
    lstatSync(file);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? false : 'unknown';
  }
}

/**
 * The record to act on: --state when given; else the default, or failing that a record an earlier
 * release left at its old default, whose originals may still be in effect in this boot (`legacy`).
 */
export function recordFile(root: string, stateFile?: string): { file: string; legacy: boolean } {
  if (stateFile !== undefined) return { file: stateFile, legacy: false };
  const file = defaultStateFile(root);
  const legacy = legacyStateFile(root);
  // A default that may be there is the one reported (as unreadable), not passed over.
  return lookup(file) === false && lookup(legacy) === true
    ? { file: legacy, legacy: true }
    : { file, legacy: false };
}

export function legacyNotice(file: string, root: string): string {
  return `using ${file}, where an earlier xlane kept the tune state (now ${defaultStateFile(root)})`;
}

export function writeState(file: string, state: TuneState): void {
  try {
    writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
  } catch (e) {
    throw new XlaneError('XL_ERR_FILE', `cannot write tune state ${file}: ${(e as Error).message}`, { file });
  }
}

function modeText(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

/** Why root must not trust a record (or its directory) with these attributes, if it must not. */
function untrusted(st: Stats): string | undefined {
  if (st.uid !== 0) return `is owned by uid ${st.uid}, not root (mode ${modeText(st)})`;
  const by = [st.mode & 0o020 ? 'group' : '', st.mode & 0o002 ? 'others' : ''].filter(Boolean);
  if (by.length) return `is writable by ${by.join(' and ')} (owner root, mode ${modeText(st)})`;
  return undefined;
}

function refuse(file: string, what: string, why: string): XlaneError {
  return new XlaneError(
    'XL_ERR_TUNE_STATE',
    `refusing tune state ${file}: ${what} ${why}. Revert replays a record as root (writes its values ` +
      'to the files it names, runs its undo commands), so only root may be able to change it. If you ' +
      'trust its contents, move it to a root-owned file in a directory only root can write, such as ' +
      `${defaultStateFile('/')}, and run the command again; otherwise remove it`,
    { file },
  );
}

/**
 * The record's text, undefined when there is none. As root, whatever the --root (so a fake tree
 * shows it too), a record or directory that anyone else could have written is refused, and a
 * symlink is not followed: the checks are made on the file actually read.
 */
function readRecordText(file: string): string | undefined {
  const asRoot = process.geteuid?.() === 0;
  if (asRoot) {
    const dir = dirname(file);
    let st: Stats | undefined;
    try {
      st = statSync(dir);
    } catch {
      // No directory (nothing to read), or not one: open says which.
    }
    const why = st && untrusted(st);
    if (why) throw refuse(file, `its directory ${dir}`, why);
  }
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (asRoot ? constants.O_NOFOLLOW | constants.O_NONBLOCK : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw refuse(file, 'it', 'is a symbolic link');
    throw new XlaneError('XL_ERR_TUNE_STATE', `cannot read tune state ${file}: ${(e as Error).message}`, {
      file,
    });
  }
  try {
    if (asRoot) {
      const st = fstatSync(fd);
      if (!st.isFile()) throw refuse(file, 'it', 'is not a regular file');
      const why = untrusted(st);
      if (why) throw refuse(file, 'it', why);
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

export function readState(file: string): TuneState | undefined {
  const text = readRecordText(file);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new XlaneError(
      'XL_ERR_TUNE_STATE',
      `tune state ${file} is not valid JSON: ${(e as Error).message}`,
      {
        file,
      },
    );
  }
  const s = parsed as Partial<TuneState>;
  if (
    s.version !== 1 ||
    !Array.isArray(s.changes) ||
    typeof s.root !== 'string' ||
    (s.bootId !== undefined && typeof s.bootId !== 'string')
  )
    throw new XlaneError('XL_ERR_TUNE_STATE', `tune state ${file} has an unknown format`, { file });
  return s as TuneState;
}

/** The host's boot id as the tune code sees the host (so a fake root can fake it too). */
export function currentBootId(fs: HostFs): string | undefined {
  return bootIdOf(fs.readFile(BOOT_ID_PATH));
}

/**
 * Which boot a record belongs to. 'unknown' when it or the host has no boot id: a record written
 * before records had one, or on a machine (or fake root) without the file. Such a record
 * is handled as this boot's, as before: taking it for stale would let apply set aside the only
 * copy of originals that may still be in effect, and the host would stay tuned with nothing to
 * revert it by; taking it for current costs at most the old refusal, whose message says what to
 * do after a reboot. The record's createdAt against the boot time cannot decide it either: a host
 * whose clock is stepped after apply (NTP at boot, exactly when xlane-tune.service runs) would
 * have its current record judged stale.
 */
export function recordBoot(state: TuneState, bootId: string | undefined): 'current' | 'stale' | 'unknown' {
  if (state.bootId === undefined || bootId === undefined) return 'unknown';
  return state.bootId === bootId ? 'current' : 'stale';
}

/** A record of another boot, moved out of the way. */
export interface StaleRecord {
  file: string;
  movedTo: string;
  /** The boot that wrote it, and the running one. */
  bootId: string;
  currentBootId: string;
  createdAt: string;
  /** How many changes it listed: what the reboot undid. */
  changes: number;
}

/**
 * Renames a stale record to `<file>.stale-<its boot id>` (`.2`, `.3`… if taken) rather than removing
 * it: what the host's settings were in that boot is worth keeping for the operator who asks why.
 */
export function setAsideStale(file: string, state: TuneState, currentBootId: string): StaleRecord {
  // The id is only a file name suffix: keep it from naming another directory.
  const base = `${file}.stale-${(state.bootId ?? 'unknown').replace(/[^\w-]/g, '_')}`;
  let movedTo = base;
  for (let n = 2; existsSync(movedTo); n++) movedTo = `${base}.${n}`;
  try {
    renameSync(file, movedTo);
  } catch (e) {
    throw new XlaneError(
      'XL_ERR_FILE',
      `cannot move the stale tune state ${file} to ${movedTo}: ${(e as Error).message}`,
      { file, movedTo },
    );
  }
  return {
    file,
    movedTo,
    bootId: state.bootId ?? 'unknown',
    currentBootId,
    createdAt: state.createdAt,
    changes: state.changes.length,
  };
}

export function staleNotice(s: StaleRecord): string {
  return (
    `${s.file} records ${s.changes} change(s) made ${s.createdAt} in another boot (boot id ${s.bootId}; ` +
    `this boot is ${s.currentBootId}): the reboot undid them, so its originals are not restored; ` +
    `kept as ${s.movedTo}`
  );
}

/** What `tune check` says about the record at the state file. */
export interface RecordStatus {
  file: string;
  /**
   * none: no record (nothing applied, or reverted); current: this boot's apply is in effect;
   * stale: another boot's (the next apply or revert sets it aside); unknown-boot: it or the host
   * has no boot id (taken as this boot's); unreadable: apply and revert would refuse it, or this
   * user may not read it.
   */
  status: 'none' | 'current' | 'stale' | 'unknown-boot' | 'unreadable';
  /** The record is the one an earlier release left at legacyStateFile. */
  legacy?: boolean;
  bootId?: string;
  currentBootId?: string;
  createdAt?: string;
  changes?: number;
  error?: string;
}

export function inspectRecord(fs: HostFs, file: string): RecordStatus {
  let state: TuneState | undefined;
  try {
    state = readState(file);
  } catch (e) {
    return { file, status: 'unreadable', error: (e as Error).message };
  }
  if (!state) return { file, status: 'none' };
  const bootId = currentBootId(fs);
  const boot = recordBoot(state, bootId);
  return {
    file,
    status: boot === 'unknown' ? 'unknown-boot' : boot,
    ...(state.bootId !== undefined ? { bootId: state.bootId } : {}),
    ...(bootId !== undefined ? { currentBootId: bootId } : {}),
    createdAt: state.createdAt,
    changes: state.changes.length,
  };
}

export function describeRecord(r: RecordStatus): string {
  const what = `${r.changes} change(s) made ${r.createdAt}`;
  switch (r.status) {
    case 'none':
      return `tune state: none (${r.file}): nothing applied`;
    case 'current':
      return `tune state: ${r.file} holds the originals of ${what} in this boot; undo with xlane tune revert`;
    case 'stale':
      return (
        `tune state: ${r.file} is stale: ${what} in another boot (boot id ${r.bootId}), undone by ` +
        'the reboot; the next apply or revert sets it aside'
      );
    case 'unknown-boot':
      return (
        `tune state: ${r.file} holds the originals of ${what}, in a boot that cannot be told ` +
        `(${r.bootId === undefined ? 'the record names none' : 'this host has no boot id'}): taken as ` +
        "this boot's; if the host rebooted since, remove it instead of reverting"
      );
    case 'unreadable':
      return `tune state: ${r.error}`;
  }
}
