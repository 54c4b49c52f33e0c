// `xlane bench engine` for real (root): two namespaces, two peer processes, a short run. It checks
// the output's shape and that its counts add up — never how fast anything was (that is the bench's
// job, not a test's) — and that the namespaces and peers are gone afterwards, even after Ctrl-C.
import { describe, expect, it } from 'vitest';
import { isRoot } from '../../src/testbed/netns.js';
import { expectSummary, leftovers, runCli } from './fixtures/bench-cli-run.js';

describe.skipIf(!isRoot())('xlane bench engine (root, namespaces)', () => {
  it('prints one JSON line of the documented shape whose counts add up', { timeout: 120_000 }, async () => {
    const { child, done } = runCli([
      '--round-trips',
      '500',
      '--pacing-seconds',
      '1',
      '--max-seconds',
      '60',
      '--feed',
      'refill',
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
    expect(p.feed).toBe('refill');
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
    expect(leftovers(child.pid!)).toEqual({ namespaces: [], peers: 0, floor: 0 });
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
    expect(leftovers(child.pid!)).toEqual({ namespaces: expect.any(Array), peers: 2, floor: 0 });
    expect(leftovers(child.pid!).namespaces).toHaveLength(3);
    child.kill('SIGINT');
    const { code, out } = await done;
    expect(code).toBe(130);
    expect(out).toBe('');
    expect(leftovers(child.pid!)).toEqual({ namespaces: [], peers: 0, floor: 0 });
  });

  it('refuses bad options with a stable code before touching the kernel', async () => {
    const { child, done } = runCli(['--round-trips', '0']);
    const { code, err } = await done;
    expect(code).toBe(1);
    expect(err).toContain('XL_ERR_VALIDATION');
    expect(leftovers(child.pid!).namespaces).toEqual([]);
  });
});
