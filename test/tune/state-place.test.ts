// Where the tune record lives. Revert replays it as root, so by default it is root's own file under
// /run (emptied by the reboot that also undoes every change it lists), not in /var/lib/xlane, the
// unprivileged xlane user's StateDirectory= where earlier releases kept it. A record an earlier
// release left there is still found, so that originals still in effect are not lost.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyTuning, revertTuning } from '../../src/tune/apply.js';
import { runCheck } from '../../src/tune/check.js';
import { defaultStateFile, legacyStateFile } from '../../src/tune/tune-state.js';
import { BOOT_A, BOOT_B, copyFixture, setBootId, snapshot } from './helpers.js';

const REPO = join(import.meta.dirname, '../..');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function machine(bootId = BOOT_A) {
  const c = copyFixture('misconfigured');
  dirs.push(c.root);
  setBootId(c.root, bootId);
  return c;
}

function xlane(root: string, ...args: string[]) {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'tune', ...args, '--root', root],
    {
      cwd: REPO,
      encoding: 'utf8',
    },
  );
}

describe('the default tune record', () => {
  it('is /run/xlane-tune/tune-state.json, the same path under a fake root', () => {
    expect(defaultStateFile('/')).toBe('/run/xlane-tune/tune-state.json');
    expect(defaultStateFile('/tmp/m')).toBe('/tmp/m/run/xlane-tune/tune-state.json');
    expect(legacyStateFile('/')).toBe('/var/lib/xlane/tune-state.json');
  });

  it('apply creates its directory for root alone (0700), the record 0600, and nothing in /var/lib', () => {
    const { fs, runner, root } = machine();
    const r = applyTuning(fs, runner);
    const file = join(root, 'run/xlane-tune/tune-state.json');
    expect(r.stateFile).toBe(file);
    expect(JSON.parse(readFileSync(file, 'utf8')).changes.length).toBeGreaterThan(0);
    expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(existsSync(join(root, 'var'))).toBe(false);
    expect(runCheck(fs, runner).record).toMatchObject({ file, status: 'current' });
    expect(revertTuning(fs, runner).stateFile).toBe(file);
    expect(existsSync(file)).toBe(false);
  });
});

describe('a record an earlier release left at /var/lib/xlane/tune-state.json', () => {
  /** The tree tuned by an earlier release: its record at the old default, none at the new one. */
  function tunedByEarlierRelease() {
    const m = machine();
    const before = snapshot(m.root);
    const legacy = legacyStateFile(m.root);
    applyTuning(m.fs, m.runner, { stateFile: legacy, stopIrqbalance: true });
    expect(existsSync(defaultStateFile(m.root))).toBe(false);
    return { ...m, before, legacy };
  }

  it('check reports it, apply refuses (revert first), revert restores through it', () => {
    const { fs, runner, root, before, legacy } = tunedByEarlierRelease();
    expect(runCheck(fs, runner).record).toMatchObject({ file: legacy, legacy: true, status: 'current' });

    const tuned = snapshot(root);
    expect(() => applyTuning(fs, runner)).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_TUNE_STATE',
        message: expect.stringContaining(`${legacy} already holds the originals of an earlier apply`),
      }),
    );
    // Refused before anything: no change, and no new record beside the old one.
    expect(snapshot(root)).toEqual(tuned);

    const r = revertTuning(fs, runner);
    expect(r).toMatchObject({ stateFile: legacy, legacy: true });
    expect(r.restored.length).toBeGreaterThan(0);
    expect(runner.ran.some((l) => /systemctl start irqbalance/.test(l))).toBe(true);
    expect(snapshot(root)).toEqual(before);
    expect(existsSync(legacy)).toBe(false);
    // Then the new default is the one looked at.
    expect(runCheck(fs, runner).record).toEqual({ file: defaultStateFile(root), status: 'none' });
    expect(() => revertTuning(fs, runner)).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_NOT_FOUND',
        message: expect.stringContaining(defaultStateFile(root)),
      }),
    );
  });

  it('is passed over when the default record exists, or when --state names another', () => {
    const { fs, runner, root, legacy } = tunedByEarlierRelease();
    const other = join(root, 'elsewhere.json');
    expect(runCheck(fs, runner, {}, { stateFile: other }).record).toEqual({ file: other, status: 'none' });
    expect(() => revertTuning(fs, runner, { stateFile: other })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_NOT_FOUND' }),
    );
    mkdirSync(dirname(defaultStateFile(root)), { recursive: true, mode: 0o700 });
    writeFileSync(defaultStateFile(root), readFileSync(legacy), { mode: 0o600 });
    expect(runCheck(fs, runner).record).toMatchObject({ file: defaultStateFile(root), status: 'current' });
    expect(runCheck(fs, runner).record).not.toHaveProperty('legacy');
    expect(revertTuning(fs, runner)).not.toHaveProperty('legacy');
    expect(existsSync(legacy)).toBe(true);
  });

  it('of another boot: apply sets it aside where it is and applies to the new default', () => {
    const { fs, runner, root, legacy } = tunedByEarlierRelease();
    setBootId(root, BOOT_B);
    const r = applyTuning(fs, runner);
    expect(r.staleRecord).toMatchObject({ file: legacy, movedTo: `${legacy}.stale-${BOOT_A}` });
    expect(r.stateFile).toBe(defaultStateFile(root));
    expect(existsSync(legacy)).toBe(false);
  });

  it('CLI: revert and check say in one line that they use it', { timeout: 120_000 }, () => {
    const { root, legacy } = tunedByEarlierRelease();
    const notice = `using ${legacy}, where an earlier xlane kept the tune state (now ${defaultStateFile(root)})`;
    const check = xlane(root, 'check');
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout.split('\n').filter((l) => l === notice)).toHaveLength(1);
    expect(check.stdout).toContain(`tune state: ${legacy} holds the originals`);

    const apply = xlane(root, 'apply');
    expect(apply.status).not.toBe(0);
    expect(apply.stderr).toContain(`${legacy} already holds the originals`);

    const revert = xlane(root, 'revert');
    expect(revert.status, revert.stderr).toBe(0);
    expect(revert.stdout.split('\n')[0]).toBe(notice);
    expect(revert.stdout).toMatch(/^restored {2}watchdog\.nmi/m);
    expect(revert.stdout).toContain(`removed ${legacy}`);
  });
});
