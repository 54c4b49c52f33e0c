// The real machine: a read-only audit through the CLI, and (as root) an apply/revert round trip of
// the two settings that are safe to flip here, restored in a finally.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyTuning, revertTuning } from '../../src/tune/apply.js';
import { RealCommandRunner } from '../../src/tune/command-runner.js';
import { createHostFs } from '../../src/tune/host-fs.js';
import { copyFixture, snapshot } from './helpers.js';

const ROOT = join(import.meta.dirname, '../..');
function xlane(...args: string[]) {
  const run = spawnSync('npx', ['tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}
const isRoot = process.getuid?.() === 0;

describe('tune on this machine', () => {
  it('tune check --json: runs read-only and reports every finding id once', { timeout: 60_000 }, () => {
    const run = xlane('tune', 'check', '--json');
    expect(run.status, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(typeof r.core).toBe('number');
    expect(r.coreReason).toMatch(/^CPU \d+: /);
    const ids = r.findings.map((f: { id: string }) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(
      expect.arrayContaining(['cmdline.isolcpus', 'irq.affinity', 'rt.throttling', 'core.busy']),
    );
    for (const f of r.findings) expect(['ok', 'warn', 'fail', 'skip']).toContain(f.status);
  });

  it('tune check --measure --json: adds the measured timing findings', { timeout: 60_000 }, () => {
    const run = xlane('tune', 'check', '--measure', '--json');
    expect(run.status, run.stderr).toBe(0);
    const ids = JSON.parse(run.stdout).findings.map((f: { id: string }) => f.id);
    expect(ids).toEqual(expect.arrayContaining(['timing.wakeup', 'timing.gaps']));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.skipIf(!isRoot)('apply/revert of rt.throttling and watchdog.soft: values after == values before', () => {
    const fs = createHostFs('/');
    const knobs = ['/proc/sys/kernel/sched_rt_runtime_us', '/proc/sys/kernel/soft_watchdog'];
    const before = knobs.map((k) => fs.readFile(k));
    const dir = mkdtempSync(join(tmpdir(), 'xlane-tune-live-'));
    const stateFile = join(dir, 'state.json');
    try {
      const r = applyTuning(fs, new RealCommandRunner(), {
        stateFile,
        only: ['rt.throttling', 'watchdog.soft'],
      });
      if (r.applied.includes('rt.throttling')) expect(fs.readFile(knobs[0]!)?.trim()).toBe('-1');
      if (r.applied.includes('watchdog.soft')) expect(fs.readFile(knobs[1]!)?.trim()).toBe('0');
      expect(r.applied.every((id) => ['rt.throttling', 'watchdog.soft'].includes(id))).toBe(true);
    } finally {
      if (existsSync(stateFile)) revertTuning(fs, new RealCommandRunner(), { stateFile });
      rmSync(dir, { recursive: true, force: true });
    }
    expect(knobs.map((k) => fs.readFile(k))).toEqual(before);
  });

  it('CLI apply --dry-run, apply, revert on a fake tree (--root)', { timeout: 120_000 }, () => {
    const { root } = copyFixture('misconfigured');
    try {
      const before = snapshot(root);
      const dry = xlane('tune', 'apply', '--root', root, '--dry-run');
      expect(dry.status, dry.stderr).toBe(0);
      expect(dry.stdout).toContain('would run  watchdog.nmi: echo 0 > /proc/sys/kernel/nmi_watchdog');
      expect(dry.stdout).toContain('isolcpus=3 nohz_full=3 rcu_nocbs=3');
      expect(snapshot(root)).toEqual(before);
      const apply = xlane('tune', 'apply', '--root', root, '--json');
      expect(apply.status, apply.stderr).toBe(0);
      expect(JSON.parse(apply.stdout).applied).toContain('watchdog.nmi');
      expect(readFileSync(join(root, 'proc/sys/kernel/nmi_watchdog'), 'utf8')).toBe('0');
      const revert = xlane('tune', 'revert', '--root', root);
      expect(revert.status, revert.stderr).toBe(0);
      expect(snapshot(root)).toEqual(before);
      const again = xlane('tune', 'revert', '--root', root);
      expect(again.status).toBe(1);
      expect(again.stderr).toContain('XL_ERR_NOT_FOUND');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
