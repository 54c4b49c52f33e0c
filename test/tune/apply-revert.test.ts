// apply → revert on writable copies of the fixture machines: every touched file comes back
// byte-identical, failures roll back, dry runs change nothing.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyTuning, revertTuning } from '../../src/tune/apply.js';
import { runCheck } from '../../src/tune/check.js';
import { createHostFs } from '../../src/tune/host-fs.js';
import { copyFixture, failingOn, MACHINES, snapshot } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function copy(name: string) {
  const c = copyFixture(name);
  dirs.push(c.root);
  return c;
}
const STATE = 'run/xlane-tune/tune-state.json';

describe('tune apply / revert on fake trees', () => {
  for (const name of MACHINES) {
    it(`${name}: apply fixes every runtime finding, revert restores every file byte for byte`, () => {
      const { fs, runner, root } = copy(name);
      const before = snapshot(root);
      const r = applyTuning(fs, runner, { stopIrqbalance: true });
      const afterCheck = runCheck(fs, runner);
      for (const id of r.applied) {
        const f = afterCheck.findings.find((x) => x.id === id)!;
        // Command changes (ethtool, systemctl) are not visible in a fake tree's files.
        if (!['nic.coalescing', 'irqbalance.running'].includes(id)) expect(f.status, id).toBe('ok');
      }
      if (r.changes.length > 0) expect(existsSync(join(root, STATE))).toBe(true);
      revertTuning(fs, runner);
      expect(existsSync(join(root, STATE))).toBe(false);
      const after = snapshot(root);
      expect(after).toEqual(before);
    });
  }

  it('misconfigured: the exact set of ids applied, state holds the originals, commands are undone', () => {
    const { fs, runner, root } = copy('misconfigured');
    const r = applyTuning(fs, runner, { stopIrqbalance: true });
    expect(r.applied.sort()).toEqual(
      [
        'cpu.governor',
        'cpu.idle',
        'irq.affinity',
        'irqbalance.running',
        'nic.coalescing',
        'rt.throttling',
        'thp.enabled',
        'watchdog.nmi',
        'watchdog.soft',
      ].sort(),
    );
    expect(fs.readFile('/proc/irq/130/smp_affinity_list')).toBe('0-2');
    expect(fs.readFile('/proc/irq/131/smp_affinity_list')).toBe('2');
    expect(fs.readFile('/proc/irq/default_smp_affinity')).toBe('7');
    expect(fs.readFile('/sys/kernel/mm/transparent_hugepage/enabled')).toBe('always [madvise] never\n');
    const state = JSON.parse(readFileSync(join(root, STATE), 'utf8'));
    const thp = state.changes.find((c: { id: string }) => c.id === 'thp.enabled');
    expect(thp).toMatchObject({ original: '[always] madvise never\n', restore: 'always' });
    expect(r.kernelCmdline).toBe('isolcpus=3 nohz_full=3 rcu_nocbs=3');

    revertTuning(fs, runner);
    expect(runner.ran).toContain('systemctl stop irqbalance');
    expect(runner.ran).toContain('ethtool -C eno1 adaptive-rx off rx-usecs 0');
    expect(runner.ran).toContain('ethtool -C eno1 adaptive-rx on rx-usecs 50');
    expect(runner.ran).toContain('systemctl start irqbalance');
    // Undo runs in reverse order: irqbalance comes back last, after the IRQs are restored.
    expect(runner.ran.at(-1)).toBe('systemctl start irqbalance');
  });

  it('irqbalance is only stopped when asked', () => {
    const { fs, runner } = copy('misconfigured');
    const r = applyTuning(fs, runner);
    expect(r.applied).not.toContain('irqbalance.running');
    expect(runner.ran).not.toContain('systemctl stop irqbalance');
    revertTuning(fs, runner);
  });

  it('--only restricts the changes to the named findings', () => {
    const { fs, runner, root } = copy('misconfigured');
    const before = snapshot(root);
    const r = applyTuning(fs, runner, { only: ['rt.throttling', 'watchdog.soft'] });
    expect(r.applied.sort()).toEqual(['rt.throttling', 'watchdog.soft']);
    expect(fs.readFile('/proc/sys/kernel/nmi_watchdog')).toBe('1\n');
    revertTuning(fs, runner);
    expect(snapshot(root)).toEqual(before);
  });

  it('dry run changes nothing and writes no state', () => {
    const { fs, runner, root } = copy('misconfigured');
    const before = snapshot(root);
    const r = applyTuning(fs, runner, { dryRun: true, stopIrqbalance: true });
    expect(r.dryRun).toBe(true);
    expect(r.changes.length).toBeGreaterThan(10);
    expect(snapshot(root)).toEqual(before);
    expect(runner.ran.filter((l) => /ethtool -C|systemctl/.test(l))).toEqual([]);
  });

  it('a failure mid-way restores what was already changed and reports XL_ERR_TUNE_APPLY', () => {
    const { fs, runner, root } = copy('misconfigured');
    const before = snapshot(root);
    const broken = failingOn(fs, '/proc/sys/kernel/sched_rt_runtime_us');
    let err: unknown;
    try {
      applyTuning(broken, runner, { stopIrqbalance: true });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'XL_ERR_TUNE_APPLY' });
    const details = (err as { details: { failed: { id: string }; restored: number } }).details;
    expect(details.failed.id).toBe('rt.throttling');
    expect(details.restored).toBeGreaterThan(0);
    expect(snapshot(root)).toEqual(before);
    expect(runner.ran).toContain('systemctl start irqbalance');
  });

  it('an IRQ the kernel refuses to move is reported, not fatal, and revert leaves it alone', () => {
    const { fs, runner, root } = copy('misconfigured');
    const before = snapshot(root);
    const broken = failingOn(fs, '/proc/irq/16/smp_affinity_list', 'EIO');
    const r = applyTuning(broken, runner);
    expect(r.refused.map((x) => x.action)).toEqual(['echo 0-2 > /proc/irq/16/smp_affinity_list']);
    expect(fs.readFile('/proc/irq/130/smp_affinity_list')).toBe('0-2');
    const state = JSON.parse(readFileSync(join(root, STATE), 'utf8'));
    expect(state.changes.some((c: { path?: string }) => c.path === '/proc/irq/16/smp_affinity_list')).toBe(
      false,
    );
    revertTuning(broken, runner);
    expect(snapshot(root)).toEqual(before);
  });

  it('a second apply refuses to overwrite the saved originals', () => {
    const { fs, runner } = copy('vm-1node');
    applyTuning(fs, runner);
    expect(() => applyTuning(fs, runner)).toThrow(expect.objectContaining({ code: 'XL_ERR_TUNE_STATE' }));
    revertTuning(fs, runner);
  });

  it('revert without a state file says so with XL_ERR_NOT_FOUND', () => {
    const { fs, runner } = copy('vm-1node');
    expect(() => revertTuning(fs, runner)).toThrow(expect.objectContaining({ code: 'XL_ERR_NOT_FOUND' }));
  });

  it('a state file that is not JSON, or not ours, is XL_ERR_TUNE_STATE, not a crash', () => {
    const { fs, runner, root } = copy('vm-1node');
    const notJson = join(root, 'proc/cmdline');
    expect(() => revertTuning(fs, runner, { stateFile: notJson })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_TUNE_STATE' }),
    );
    const foreign = join(root, 'commands.json');
    expect(() => applyTuning(fs, runner, { stateFile: foreign })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_TUNE_STATE' }),
    );
  });

  it('the live machine needs root for apply and revert (dry run does not)', () => {
    const live = createHostFs('/');
    const { runner } = copy('vm-1node');
    expect(() => applyTuning(live, runner, { isRoot: false })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_NOT_ROOT' }),
    );
    expect(() => revertTuning(live, runner, { isRoot: false })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_NOT_ROOT' }),
    );
    expect(applyTuning(live, runner, { isRoot: false, dryRun: true }).dryRun).toBe(true);
  });
});
