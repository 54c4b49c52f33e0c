// Revert replays the tune record as root: it writes each recorded value to the recorded path and
// runs the recorded undo commands. So root reads no record that anyone else could have written:
// one not owned by root, writable by group or others, a symlink, or in such a directory.
//
// The check applies whenever the process is root, whatever --root says, so a fake tree shows it;
// making files owned by another user needs root anyway. The suite runs as root here and in CI.
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyTuning, revertTuning } from '../../src/tune/apply.js';
import { runCheck } from '../../src/tune/check.js';
import { defaultStateFile, legacyStateFile } from '../../src/tune/tune-state.js';
import { copyFixture, snapshot } from './helpers.js';

const NOBODY = 65534;
const asRoot = process.geteuid?.() === 0;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fake tree tuned by apply, its record, and a file the record should never be able to reach. */
function tuned() {
  const c = copyFixture('misconfigured');
  dirs.push(c.root);
  applyTuning(c.fs, c.runner, { stopIrqbalance: true });
  const file = defaultStateFile(c.root);
  const victim = join(c.root, 'etc/shadow');
  mkdirSync(dirname(victim), { recursive: true });
  writeFileSync(victim, 'root:$6$secret\n', { mode: 0o600 });
  c.runner.ran.length = 0;
  return { ...c, file, victim };
}

/** What the user who can write the record would make of it: a root shell's worth of changes. */
function poison(file: string, victim: string): void {
  const state = JSON.parse(readFileSync(file, 'utf8'));
  state.changes.push(
    { id: 'x', kind: 'file', path: victim.slice(state.root.length), value: '', restore: 'root::0:0\n' },
    { id: 'y', kind: 'command', run: ['true'], undo: ['chmod', 'u+s', '/bin/sh'] },
  );
  writeFileSync(file, JSON.stringify(state));
}

/** The error fn throws (failing the test if it throws none). */
function errorOf(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected an error');
}

describe.skipIf(!asRoot)('root reads no tune record anyone else could have written', () => {
  it('a record owned by another user: revert refuses, changes nothing, runs nothing', () => {
    const { fs, runner, root, file, victim } = tuned();
    poison(file, victim);
    chownSync(file, NOBODY, NOBODY);
    const before = snapshot(root);
    expect(() => revertTuning(fs, runner)).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_TUNE_STATE',
        message: expect.stringContaining(
          `refusing tune state ${file}: it is owned by uid ${NOBODY}, not root`,
        ),
      }),
    );
    expect(snapshot(root)).toEqual(before);
    expect(readFileSync(victim, 'utf8')).toBe('root:$6$secret\n');
    expect(runner.ran).toEqual([]);
    // check says so, apply refuses the same way (and writes no record over it).
    expect(runCheck(fs, runner).record).toMatchObject({
      status: 'unreadable',
      error: expect.stringContaining(`uid ${NOBODY}`),
    });
    expect(() => applyTuning(fs, runner)).toThrow(expect.objectContaining({ code: 'XL_ERR_TUNE_STATE' }));
    expect(snapshot(root)).toEqual(before);
  });

  it('the message names the file, the owner and mode, and why', () => {
    const { fs, runner, file } = tuned();
    chownSync(file, NOBODY, NOBODY);
    expect(errorOf(() => revertTuning(fs, runner)).message).toBe(
      `refusing tune state ${file}: it is owned by uid ${NOBODY}, not root (mode 0600). Revert replays ` +
        'a record as root (writes its values to the files it names, runs its undo commands), so only ' +
        'root may be able to change it. If you trust its contents, move it to a root-owned file in a ' +
        'directory only root can write, such as /run/xlane-tune/tune-state.json, and run the command ' +
        'again; otherwise remove it',
    );
  });

  it('a record writable by group or by others', () => {
    const { fs, runner, file } = tuned();
    chmodSync(file, 0o620);
    expect(() => revertTuning(fs, runner)).toThrow(
      expect.objectContaining({
        message: expect.stringContaining('it is writable by group (owner root, mode 0620)'),
      }),
    );
    chmodSync(file, 0o666);
    expect(() => revertTuning(fs, runner)).toThrow(
      expect.objectContaining({
        message: expect.stringContaining('it is writable by group and others (owner root, mode 0666)'),
      }),
    );
    // Root's own again: revert goes through (the checks refuse no good record).
    chmodSync(file, 0o600);
    expect(revertTuning(fs, runner).restored.length).toBeGreaterThan(0);
  });

  it('a directory owned by another user, or writable by others, even over a root-owned record', () => {
    const { fs, runner, file } = tuned();
    const dir = dirname(file);
    chownSync(dir, NOBODY, NOBODY);
    expect(() => revertTuning(fs, runner)).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_TUNE_STATE',
        message: expect.stringContaining(
          `refusing tune state ${file}: its directory ${dir} is owned by uid ${NOBODY}, not root (mode 0700)`,
        ),
      }),
    );
    chownSync(dir, 0, 0);
    chmodSync(dir, 0o1777);
    expect(() => revertTuning(fs, runner)).toThrow(
      expect.objectContaining({
        message: expect.stringContaining(`its directory ${dir} is writable by group and others`),
      }),
    );
    // apply, with no record there, writes none into such a directory either.
    chmodSync(dir, 0o700);
    expect(revertTuning(fs, runner).restored.length).toBeGreaterThan(0);
    chmodSync(dir, 0o777);
    expect(() => applyTuning(fs, runner)).toThrow(expect.objectContaining({ code: 'XL_ERR_TUNE_STATE' }));
    expect(existsSync(file)).toBe(false);
  });

  it('a record that is a symlink, even to a root-owned file', () => {
    const { fs, runner, root, file } = tuned();
    const elsewhere = join(root, 'record.json');
    renameSync(file, elsewhere);
    symlinkSync(elsewhere, file);
    expect(() => revertTuning(fs, runner)).toThrow(
      expect.objectContaining({
        message: expect.stringContaining(`refusing tune state ${file}: it is a symbolic link`),
      }),
    );
  });

  it('a record an earlier release left in /var/lib/xlane owned by the xlane user', () => {
    const c = copyFixture('misconfigured');
    dirs.push(c.root);
    const legacy = legacyStateFile(c.root);
    applyTuning(c.fs, c.runner, { stateFile: legacy });
    // What systemd's StateDirectory=xlane does to the directory.
    chownSync(dirname(legacy), NOBODY, NOBODY);
    const e = errorOf(() => revertTuning(c.fs, c.runner));
    expect(e.code).toBe('XL_ERR_TUNE_STATE');
    expect(e.message).toContain(
      `refusing tune state ${legacy}: its directory ${dirname(legacy)} is owned by uid ${NOBODY}`,
    );
    expect(e.message).toContain('If you trust its contents, move it to a root-owned file');
    expect(runCheck(c.fs, c.runner).record).toMatchObject({
      file: legacy,
      legacy: true,
      status: 'unreadable',
    });
    expect(() => applyTuning(c.fs, c.runner)).toThrow(expect.objectContaining({ code: 'XL_ERR_TUNE_STATE' }));
    // The way out the message gives: the record moved to root's directory.
    mkdirSync(dirname(defaultStateFile(c.root)), { recursive: true, mode: 0o700 });
    renameSync(legacy, defaultStateFile(c.root));
    expect(revertTuning(c.fs, c.runner).restored.length).toBeGreaterThan(0);
  });
});
