// `xlane bench engine --engine native --receive poll` and `--all` for real (root, and the addon built): a SHORT run
// of each. Checks the documented shape, that counts and ratios agree with the numbers printed, and
// that nothing is left behind — never how fast anything was.
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { nativeUnavailable } from '../../src/bench/engine.js';
import { isRoot } from '../../src/testbed/netns.js';
import { expectSummary, leftovers, runCli } from './fixtures/bench-cli-run.js';

const canRun = isRoot() && nativeUnavailable() === undefined;

function floorDirs(pid: number): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith(`xlane-floor-${pid}-`));
}

describe.skipIf(!canRun)('xlane bench engine --engine native (root, addon)', () => {
  it('adds the C floor measured in the same run, the ratios, the receive mode and the backup clock’s count', {
    timeout: 120_000,
  }, async () => {
    const { child, done } = runCli([
      '--engine',
      'native',
      '--receive',
      'poll',
      '--round-trips',
      '400',
      '--pacing-seconds',
      '1',
      '--backup',
      '--json',
    ]);
    const { code, out, err } = await done;
    expect(code, err).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]!);

    expect(r.engine).toBe('native');
    expect(r.requestedEngine).toBe('native');
    expect(r.mode).toBe('poll');
    for (const k of ['rttUs', 'pacingErrUs', 'dgramRttUs', 'floorRttUs']) expectSummary(r[k]);
    expect(Object.keys(r.ratios).sort()).toEqual(['dgramOverNativeP50', 'p50', 'p999']);
    expect(r.ratios.p50).toBeCloseTo(r.rttUs.p50 / r.floorRttUs.p50, 2);
    expect(r.ratios.p999).toBeCloseTo(r.rttUs.p999 / r.floorRttUs.p999, 2);
    expect(r.ratios.dgramOverNativeP50).toBeCloseTo(r.dgramRttUs.p50 / r.rttUs.p50, 2);

    // Every kind measured the asked number (lost pings are re-sent, never recorded).
    expect(r.truncated).toBe(false);
    expect([r.roundTrips, r.dgramRoundTrips, r.floorRoundTrips]).toEqual([400, 400, 400]);
    expect(r.cores).toEqual({ a: 0, b: 1 });

    // The engine's share of the pacing error is judged on a subset of the frames judged overall.
    const p = r.pacing;
    expectSummary(p.engineErrUs);
    expect(p.frames + p.lostFrames).toBe(p.sent);
    expect(p.engineJudged + p.appLateFrames).toBe(p.judged);
    expect(p.engineMissedPeriods).toBeGreaterThanOrEqual(0);
    // The default feed: the engine's heartbeat clock emits every frame, the application none.
    expect(p.feed).toBe('heartbeat');
    expect(p.refillCalls).toBe(0);
    expect(p.appLateFrames).toBe(0);
    // --backup: the sender ran a backup clock, which counts what it released (part of what was sent).
    expect(p.backupReleases).toBeGreaterThanOrEqual(0);
    expect(p.backupReleases).toBeLessThanOrEqual(p.sent);

    expect(leftovers(child.pid!)).toEqual({ namespaces: [], peers: 0, floor: 0 });
    expect(floorDirs(child.pid!)).toEqual([]);
  });

  it('--all measures every engine in one run and prints the markdown table', {
    timeout: 180_000,
  }, async () => {
    const { child, done } = runCli(['--all', '--round-trips', '300', '--pacing-seconds', '0.5', '--json']);
    const { code, out, err } = await done;
    expect(code, err).toBe(0);
    const t = JSON.parse(out.trim());
    expect(t.rows.map((row: { name: string }) => row.name)).toEqual([
      'C floor (busy-poll)',
      'native busy-poll',
      'native blocking',
      'native poll',
      'js',
      'Node dgram',
    ]);
    for (const row of t.rows) {
      expectSummary(row.rttUs);
      expect(row.roundTrips).toBe(300);
    }
    for (const row of t.rows.slice(1, 5)) {
      expectSummary(row.pacingErrUs);
      expect(row.overFloor.p50).toBeCloseTo(row.rttUs.p50 / t.rows[0].rttUs.p50, 2);
    }
    expect(t.skipped).toEqual([]);
    expect(leftovers(child.pid!)).toEqual({ namespaces: [], peers: 0, floor: 0 });

    const md = runCli(['--all', '--round-trips', '100', '--pacing-seconds', '0.2']);
    const m = await md.done;
    expect(m.code, m.err).toBe(0);
    expect(m.out).toMatch(/^\| 64 B round trip/);
    expect(m.out.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| 64 B'))).toHaveLength(6);
  });

  it('leaves no floor process, temp binary, peer or namespace when interrupted', {
    timeout: 120_000,
  }, async () => {
    const { child, done } = runCli([
      '--engine',
      'native',
      '--round-trips',
      '10000000',
      '--max-seconds',
      '100',
    ]);
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        if (String(d).includes('round trips:')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`bench exited (${code}) before it started measuring`)));
    });
    // Long enough for blocks of both kinds: 5,000 engine round trips take well under 2 s here.
    await new Promise((r) => setTimeout(r, 2000));
    expect(floorDirs(child.pid!)).toHaveLength(1);
    child.kill('SIGINT');
    const { code } = await done;
    expect(code).toBe(130);
    expect(leftovers(child.pid!)).toEqual({ namespaces: [], peers: 0, floor: 0 });
    expect(floorDirs(child.pid!)).toEqual([]);
  });

  it('refuses a CPU this machine does not have before touching the kernel', async () => {
    const { child, done } = runCli(['--engine', 'native', '--core-b', '4096']);
    const { code, err } = await done;
    expect(code).toBe(1);
    expect(err).toContain('XL_ERR_VALIDATION');
    expect(leftovers(child.pid!).namespaces).toEqual([]);
    expect(floorDirs(child.pid!)).toEqual([]);
  });
});
