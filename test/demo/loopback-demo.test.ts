// The demo's fallback without root: one lane granted by the controller demo, run on loopback by the
// js engine's heartbeat clock, judged against the grant's window.
import { describe, expect, it } from 'vitest';
import { runControllerDemo } from '../../src/demo/controller-demo.js';
import { runLoopbackLane } from '../../src/demo/loopback-demo.js';
import { probeTestbed } from '../../src/demo/testbed-probe.js';

describe('xlane demo without the proving ground', () => {
  it('runs a granted lane on 127.0.0.1 and reports its latencies against the grant', async () => {
    const demo = await runControllerDemo({ listen: '127.0.0.1:0', dbPath: ':memory:' });
    try {
      const hb = demo.lanes.find((l) => l.name === 'hb-h1-h3')!;
      const { lane } = await runLoopbackLane(hb, 0.5);
      const r = hb.grant.receivers[0]!;
      expect(lane.lane).toBe(hb.id);
      expect(lane.boundUs).toBeCloseTo(r.lambdaMaxNs / 1000, 3);
      expect(lane.lambdaMinUs).toBeCloseTo(r.lambdaMinNs / 1000, 3);
      // Half a second at 100 µs: frames flow from the engine's own clock, whatever the load.
      expect(lane.messages).toBeGreaterThan(100);
      expect(lane.p50Us).toBeGreaterThan(0);
      expect(lane.maxUs).toBeGreaterThanOrEqual(lane.p99Us);
    } finally {
      await demo.controller.close();
    }
  });

  it('names every missing piece of the proving ground', () => {
    const p = probeTestbed();
    expect(p.ok).toBe(p.missing.length === 0);
    if (process.getuid?.() !== 0) expect(p.missing.join(' ')).toMatch(/root/);
  });
});
