// The README's main job must keep working: a real controller on the shipped example, lanes admitted
// over HTTP, one re-tuned by the adjustment and one refused with the bottleneck named.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { verifyAllocation } from '../../src/alloc/verify.js';
import { type DemoResult, EXAMPLE_TOPOLOGY, runControllerDemo } from '../../src/demo/controller-demo.js';
import { loadTopologyFile } from '../../src/topology/load.js';

describe('xlane demo (controller stage)', () => {
  let demo: DemoResult | undefined;
  afterAll(async () => {
    await demo?.controller.close();
  });

  it('admits the demo lanes, re-tunes a flexible one and refuses the greedy one naming s1→h3', async () => {
    demo = await runControllerDemo({ listen: '127.0.0.1:0', dbPath: ':memory:' });
    const admitted = demo.steps.filter((s) => s.lane);
    expect(admitted.map((s) => s.request.name)).toEqual([
      'hb-h1-h3',
      'hb-h2-h3',
      'raft-h1',
      'sync-h2-h3',
      'sync-h1-h3',
    ]);
    expect(admitted.every((s) => s.lane?.state === 'live')).toBe(true);
    const refused = demo.steps.find((s) => s.refused);
    expect(refused?.request.name).toBe('greedy-h2-h3');
    expect(refused?.refused?.code).toBe('XL_ERR_ADMISSION_REJECTED');
    expect(refused?.refused?.message).toMatch(/s1→h3/);

    // The second bulky lane only fits because the first one was stretched within its request.
    const last = admitted.at(-1);
    const retuned = last?.changed.find((c) => c.reasons.includes('period'));
    expect(retuned?.after.minPeriodNs).toBeGreaterThan(100_000);
    expect(retuned?.after.minPeriodNs).toBeLessThanOrEqual(1_000_000);

    // What the controller serves is what an independent recomputation accepts.
    const lanes = demo.lanes.map((l) => ({ laneId: l.id, request: l.request, grant: l.grant }));
    expect(verifyAllocation(loadTopologyFile(EXAMPLE_TOPOLOGY), lanes)).toEqual([]);
    const s1h3 = demo.ports.find((p) => p.from === 's1' && p.to === 'h3');
    expect(s1h3?.expressBps).toBeLessThanOrEqual(s1h3?.shareBps ?? 0);
  });

  describe('its temporary state folder', () => {
    const envTmp = process.env.TMPDIR;
    let tmp = '';
    // A private TMPDIR: the folder the demo makes is the only thing that can appear in it.
    const privateTmp = () => {
      tmp = mkdtempSync(join(tmpdir(), 'xlane-demo-test-'));
      process.env.TMPDIR = tmp;
    };
    afterEach(() => {
      if (envTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = envTmp;
      rmSync(tmp, { recursive: true, force: true });
    });

    it('lives as long as the controller and is removed when it closes', async () => {
      privateTmp();
      const d = await runControllerDemo({ listen: '127.0.0.1:0' });
      try {
        expect(dirname(dirname(d.dbPath))).toBe(tmp);
        expect(existsSync(d.dbPath)).toBe(true);
      } finally {
        await d.controller.close();
      }
      expect(readdirSync(tmp)).toEqual([]);
    });

    it('is removed when the controller cannot start', async () => {
      privateTmp();
      await expect(
        runControllerDemo({ listen: '127.0.0.1:0', topology: join(tmp, 'missing.yaml') }),
      ).rejects.toThrow();
      expect(readdirSync(tmp)).toEqual([]);
    });
  });
});
