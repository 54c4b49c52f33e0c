// `xlane bench engine` for real (root): two namespaces, two peer processes, a short run. It checks
// the output's shape and that its counts add up — never how fast anything was (that is the bench's
// job, not a test's) — and that the namespaces and peers are gone afterwards, even after Ctrl-C.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isRoot, listNamespaces } from '../../src/testbed/netns.js';

const CLI = fileURLToPath(new URL('./fixtures/bench-engine-cli.ts', import.meta.url));

function runCli(args: string[]): {
  child: ChildProcess;
  done: Promise<{ code: number | null; out: string; err: string }>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'bench', 'engine', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<{ code: number | null; out: string; err: string }>((r) =>
    child.once('exit', (code) => r({ code, out, err })),
  );
  return { child, done };
}

/** Namespaces and bench peers left by the process `pid`. */
function leftovers(pid: number): { namespaces: string[]; peers: number } {
  const namespaces = listNamespaces().filter((n) => n.startsWith(`xlt-${pid}-`));
  let peers = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('engine-peer') && cmd.includes(`xlt-${pid}-`)) peers++;
    } catch {
      // exited while we looked
    }
  }
  return { namespaces, peers };
}

const summaryKeys = ['max', 'p50', 'p99', 'p999'];

function expectSummary(s: Record<string, number>): void {
  expect(Object.keys(s).sort()).toEqual(summaryKeys);
  for (const k of summaryKeys) expect(Number.isFinite(s[k]) && s[k]! >= 0, `${k} = ${s[k]}`).toBe(true);
  expect(s.p50).toBeLessThanOrEqual(s.p99!);
  expect(s.p99).toBeLessThanOrEqual(s.p999!);
  expect(s.p999).toBeLessThanOrEqual(s.max!);
}

describe.skipIf(!isRoot())('xlane bench engine (root, namespaces)', () => {
  it('prints one JSON line of the documented shape whose counts add up', { timeout: 120_000 }, async () => {
    const { child, done } = runCli([
      '--round-trips',
      '500',
      '--pacing-seconds',
      '1',
      '--max-seconds',
      '60',
      '--json',
    ]);
    const { code, out, err } = await done;
    expect(code, err).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!);

    expect(r.engine).toBe('js');
    for (const k of ['rttUs', 'pacingErrUs', 'dgramRttUs']) expectSummary(r[k]);
    expect(r.floorRttUs).toBeUndefined(); // native only
    expect(Object.keys(r.ratios).sort()).toEqual(['p50', 'p999']);
    expect(r.ratios.p50).toBeCloseTo(r.rttUs.p50 / r.dgramRttUs.p50, 2);

    // 500 of each kind well inside the 60 s bound; a lost ping is re-sent, never recorded.
    expect(r.truncated).toBe(false);
    expect(r.roundTrips).toBe(500);
    expect(r.dgramRoundTrips).toBe(500);

    // Every frame the sender released arrived or is counted lost; every consecutive pair is judged.
    const p = r.pacing;
    expect(p.periodUs).toBe(100);
    expect(p.frames).toBeGreaterThan(1);
    expect(p.frames + p.lostFrames).toBe(p.sent);
    expect(p.judged).toBeLessThanOrEqual(p.frames - 1);
    if (p.lostFrames === 0) expect(p.judged).toBe(p.frames - 1);
    // A 1 s run has 10,000 slots: each one carried a frame or is counted missed (or lost).
    expect(p.sent + r.missedPeriods + p.lostFrames).toBeGreaterThanOrEqual(9_000);
    expect(r.missedPeriods).toBeGreaterThanOrEqual(0);
    expect(p.refillCalls).toBeGreaterThanOrEqual(p.sent);

    expect(r.machine.cpus).toBeGreaterThan(0);
    expect(r.machine.loadAvgBefore).toHaveLength(3);
    expect(leftovers(child.pid!)).toEqual({ namespaces: [], peers: 0 });
  });

  it('removes its namespaces and peers when interrupted (Ctrl-C)', { timeout: 120_000 }, async () => {
    const { child, done } = runCli(['--round-trips', '10000000', '--max-seconds', '100', '--json']);
    // Interrupt once the peers are up and measuring.
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        if (String(d).includes('round trips:')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`bench exited (${code}) before it started measuring`)));
    });
    // The same check that must come back empty sees the run while it is live.
    expect(leftovers(child.pid!)).toEqual({ namespaces: expect.any(Array), peers: 2 });
    expect(leftovers(child.pid!).namespaces).toHaveLength(3);
    child.kill('SIGINT');
    const { code, out } = await done;
    expect(code).toBe(130);
    expect(out).toBe('');
    expect(leftovers(child.pid!)).toEqual({ namespaces: [], peers: 0 });
  });

  it('refuses bad options with a stable code before touching the kernel', async () => {
    const { child, done } = runCli(['--round-trips', '0']);
    const { code, err } = await done;
    expect(code).toBe(1);
    expect(err).toContain('XL_ERR_VALIDATION');
    expect(leftovers(child.pid!).namespaces).toEqual([]);
  });
});
