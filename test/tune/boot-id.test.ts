// The tune record names the boot whose settings it changed: every change is a run-time setting, so
// a reboot undoes them, while a record on a disk (a --state there, or an earlier release's in
// /var/lib) stays. A record of another boot must neither block the next apply nor have its
// originals written over a fresh boot's values.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BOOT_ID_PATH } from '../../src/agent/clock-domain.js';
import { applyTuning, revertTuning } from '../../src/tune/apply.js';
import { runCheck } from '../../src/tune/check.js';
import { describeRecord, readState } from '../../src/tune/tune-state.js';
import { BOOT_A, BOOT_B, copyFixture, FIXTURES, setBootId, snapshot } from './helpers.js';

const STATE = 'run/xlane-tune/tune-state.json';
const REPO = join(import.meta.dirname, '../..');

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The fixture machine, writable, booted as `bootId`. */
function machine(bootId?: string, name = 'misconfigured') {
  const c = copyFixture(name);
  dirs.push(c.root);
  if (bootId) setBootId(c.root, bootId);
  return c;
}

/** What a reboot does to the fake tree: /proc and /sys start from the machine's boot values again
 * (the fixture's) and the boot id changes. The record stays, as one on a disk would (the real
 * /run would lose it). */
function reboot(root: string, name: string, bootId: string): void {
  cpSync(join(FIXTURES, name), root, { recursive: true, force: true });
  setBootId(root, bootId);
}

function staleFiles(root: string): string[] {
  return readdirSync(join(root, 'run/xlane-tune')).filter((f) => f.includes('.stale-'));
}

describe('tune record and the boot id', () => {
  it('apply records the boot id the host (here: the fake root) reports', () => {
    const { fs, runner, root } = machine(BOOT_A);
    applyTuning(fs, runner);
    expect(readState(join(root, STATE))?.bootId).toBe(BOOT_A);
  });

  it('after a reboot, apply sets the stale record aside with a notice and applies', () => {
    const { fs, runner, root } = machine(BOOT_A);
    applyTuning(fs, runner, { stopIrqbalance: true });
    const before = readFileSync(join(root, STATE), 'utf8');
    reboot(root, 'misconfigured', BOOT_B);

    const r = applyTuning(fs, runner, { stopIrqbalance: true });
    const movedTo = join(root, `${STATE}.stale-${BOOT_A}`);
    expect(r.staleRecord).toMatchObject({
      file: join(root, STATE),
      movedTo,
      bootId: BOOT_A,
      currentBootId: BOOT_B,
      changes: JSON.parse(before).changes.length,
    });
    // Kept byte for byte, for the operator; the new record is this boot's.
    expect(readFileSync(movedTo, 'utf8')).toBe(before);
    expect(readState(join(root, STATE))?.bootId).toBe(BOOT_B);
    expect(r.applied).toContain('watchdog.nmi');
    expect(fs.readFile('/proc/sys/kernel/nmi_watchdog')).toBe('0');

    // The record of this boot reverts as always.
    const fresh = snapshot(join(FIXTURES, 'misconfigured'));
    revertTuning(fs, runner);
    const after = snapshot(root);
    for (const [path, bytes] of Object.entries(fresh)) expect(after[path], path).toBe(bytes);
  });

  it('a second stale record of the same boot does not overwrite the first one set aside', () => {
    const { fs, runner, root } = machine(BOOT_A);
    applyTuning(fs, runner);
    reboot(root, 'misconfigured', BOOT_B);
    // Two applies in the old boot can only leave two records if one was copied back by hand.
    const stale = readFileSync(join(root, STATE), 'utf8');
    applyTuning(fs, runner);
    revertTuning(fs, runner);
    writeFileSync(join(root, STATE), stale, { mode: 0o600 });
    const r = applyTuning(fs, runner);
    expect(r.staleRecord?.movedTo).toBe(join(root, `${STATE}.stale-${BOOT_A}.2`));
    expect(staleFiles(root).sort()).toEqual([
      `tune-state.json.stale-${BOOT_A}`,
      `tune-state.json.stale-${BOOT_A}.2`,
    ]);
  });

  it('revert with only a stale record restores nothing, says why and sets it aside', () => {
    const { fs, runner, root } = machine(BOOT_A);
    applyTuning(fs, runner, { stopIrqbalance: true });
    reboot(root, 'misconfigured', BOOT_B);
    // The new boot starts with its own values, e.g. from a sysctl.d file added meanwhile: the old
    // record's originals (nmi_watchdog 1) must not be written over them.
    writeFileSync(join(root, 'proc/sys/kernel/nmi_watchdog'), '0\n');
    const booted = snapshot(root);
    runner.ran.length = 0;

    const r = revertTuning(fs, runner);
    expect(r.restored).toEqual([]);
    expect(r.staleRecord).toMatchObject({ bootId: BOOT_A, currentBootId: BOOT_B });
    expect(runner.ran.filter((l) => /ethtool -C|systemctl/.test(l))).toEqual([]);
    const after = snapshot(root);
    for (const [path, bytes] of Object.entries(booted))
      if (!path.startsWith('run/')) expect(after[path], path).toBe(bytes);
    expect(existsSync(join(root, STATE))).toBe(false);
    expect(staleFiles(root)).toEqual([`tune-state.json.stale-${BOOT_A}`]);
    // Now there is nothing to revert at all.
    expect(() => revertTuning(fs, runner)).toThrow(expect.objectContaining({ code: 'XL_ERR_NOT_FOUND' }));
  });

  it('in the same boot a second apply still refuses, and revert restores', () => {
    const { fs, runner, root } = machine(BOOT_A);
    const before = snapshot(root);
    applyTuning(fs, runner);
    expect(() => applyTuning(fs, runner)).toThrow(expect.objectContaining({ code: 'XL_ERR_TUNE_STATE' }));
    expect(staleFiles(root)).toEqual([]);
    expect(revertTuning(fs, runner).staleRecord).toBeUndefined();
    expect(snapshot(root)).toEqual(before);
  });

  it('a record without a boot id (older xlane) is taken as this boot’s: apply refuses, revert restores', () => {
    const { fs, runner, root } = machine(BOOT_A);
    const before = snapshot(root);
    applyTuning(fs, runner);
    const file = join(root, STATE);
    const { bootId: _, ...old } = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify(old));
    expect(() => applyTuning(fs, runner)).toThrow(
      expect.objectContaining({ code: 'XL_ERR_TUNE_STATE', message: expect.stringMatching(/names no boot/) }),
    );
    expect(runCheck(fs, runner).record).toMatchObject({ status: 'unknown-boot', currentBootId: BOOT_A });
    expect(revertTuning(fs, runner).restored.length).toBeGreaterThan(0);
    expect(snapshot(root)).toEqual(before);
  });

  it('a host without a boot id writes records without one, handled as before', () => {
    const { fs, runner, root } = machine(undefined, 'vm-1node');
    const before = snapshot(root);
    applyTuning(fs, runner);
    expect(readState(join(root, STATE))).not.toHaveProperty('bootId');
    expect(() => applyTuning(fs, runner)).toThrow(expect.objectContaining({ code: 'XL_ERR_TUNE_STATE' }));
    revertTuning(fs, runner);
    expect(snapshot(root)).toEqual(before);
  });

  it('a record whose boot id is not a string is refused as an unknown format', () => {
    const { fs, runner, root } = machine(BOOT_A);
    applyTuning(fs, runner);
    const file = join(root, STATE);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), bootId: 7 }));
    expect(() => revertTuning(fs, runner)).toThrow(expect.objectContaining({ code: 'XL_ERR_TUNE_STATE' }));
  });

  it('a boot id that is not a plain name cannot move the record into another directory', () => {
    const { fs, runner, root } = machine(BOOT_B);
    const file = join(root, STATE);
    // Root's own, as tune reads no other record as root.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const record = { version: 1, createdAt: 'x', root, bootId: '../../x', core: 0, nic: null, changes: [] };
    writeFileSync(file, JSON.stringify(record), { mode: 0o600 });
    expect(revertTuning(fs, runner).staleRecord?.movedTo).toBe(`${file}.stale-______x`);
  });

  it('check reports the record: none, this boot, stale, unknown boot, unreadable', () => {
    const { fs, runner, root } = machine(BOOT_A);
    const file = join(root, STATE);
    expect(runCheck(fs, runner).record).toEqual({ file, status: 'none' });
    applyTuning(fs, runner);
    const current = runCheck(fs, runner).record;
    expect(current).toMatchObject({ file, status: 'current', bootId: BOOT_A, currentBootId: BOOT_A });
    expect(describeRecord(current)).toMatch(/in this boot; undo with xlane tune revert/);
    setBootId(root, BOOT_B);
    const stale = runCheck(fs, runner).record;
    expect(stale).toMatchObject({ status: 'stale', bootId: BOOT_A, currentBootId: BOOT_B });
    expect(describeRecord(stale)).toContain(`is stale`);
    // check only looks: the record is still where it was.
    expect(existsSync(file)).toBe(true);
    rmSync(join(root, BOOT_ID_PATH));
    expect(runCheck(fs, runner).record.status).toBe('unknown-boot');
    writeFileSync(file, 'not json');
    expect(runCheck(fs, runner).record).toMatchObject({ status: 'unreadable', error: /not valid JSON/ });
    // --state: another file.
    expect(runCheck(fs, runner, {}, { stateFile: join(root, 'elsewhere.json') }).record.status).toBe('none');
  });

  it('CLI: apply after a reboot prints the notice, check --json and revert report the stale record', {
    timeout: 120_000,
  }, () => {
    const { root } = machine(BOOT_A);
    const xlane = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'tune', ...args, '--root', root], {
        cwd: REPO,
        encoding: 'utf8',
      });
    const first = xlane('apply');
    expect(first.status, first.stderr).toBe(0);
    reboot(root, 'misconfigured', BOOT_B);

    const check = xlane('check', '--json');
    expect(check.status, check.stderr).toBe(0);
    expect(JSON.parse(check.stdout).record).toMatchObject({ status: 'stale', bootId: BOOT_A });

    const revert = xlane('revert');
    expect(revert.status, revert.stderr).toBe(0);
    expect(revert.stdout).toMatch(
      /^nothing restored: .* in another boot \(boot id 1111.*the reboot undid them/m,
    );
    expect(revert.stdout).not.toMatch(/^restored /m);

    // Once more with the record back in place: apply sets it aside and goes on.
    cpSync(join(root, `${STATE}.stale-${BOOT_A}`), join(root, STATE));
    const apply = xlane('apply');
    expect(apply.status, apply.stderr).toBe(0);
    expect(apply.stdout).toMatch(/^set aside a stale tune state: .*kept as .*\.stale-1111.*\.2$/m);
    expect(apply.stdout).toMatch(/^changed {2}watchdog\.nmi/m);
  });
});
