// /metrics over real HTTP on loopback: lane counters pulled from the engine at scrape time, drops
// by reason, the latency histogram around each lane's window, epoch and connectivity.
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../src/agent/metrics/agent-metrics.js';
import { LatencyRecorder, latencyBucketsUs } from '../../src/agent/metrics/latency-recorder.js';
import { startMetricsServer } from '../../src/agent/metrics/server.js';
import { RealtimeOffset } from '../../src/engine/clock.js';
import type { SpinStats } from '../../src/engine/spin-setting.js';
import { FakeEngine, laneCounters } from './fake-engine.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('latency buckets', () => {
  it('sit around the granted window, ascending, in µs', () => {
    expect(latencyBucketsUs(20_000, 100_000)).toEqual([10, 20, 40, 60, 80, 100, 125, 150, 200, 400]);
    const b = latencyBucketsUs(0, 5_000);
    expect(b[0]).toBeGreaterThan(0);
    expect([...b].sort((x, y) => x - y)).toEqual(b);
  });

  it('count each message once, in the first bucket whose bound it does not exceed', () => {
    const rec = new LatencyRecorder();
    rec.configure('L1', 20_000, 100_000);
    for (const ns of [5_000, 20_000, 20_001, 100_000, 100_001, 1e9]) rec.record('L1', ns);
    rec.record('L9', 1); // unknown lane: ignored
    const h = new Map(rec.entries()).get('L1')!;
    expect(Array.from(h.counts)).toEqual([1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1]);
    rec.configure('L1', 20_000, 100_000); // same window: kept
    expect(new Map(rec.entries()).get('L1')!.count).toBe(6);
    rec.configure('L1', 20_000, 120_000); // moved: restarted
    expect(new Map(rec.entries()).get('L1')!.count).toBe(0);
  });
});

describe('/metrics', () => {
  it("shows the engine's spin margin and, once learned, the wake-up lateness it came from", async () => {
    let spin: SpinStats | undefined;
    const registry = createAgentMetrics({
      engine: new FakeEngine(),
      latency: new LatencyRecorder(),
      status: () => ({ epoch: 1, version: 1, connected: true, lanes: 0 }),
      qosErrors: () => 0,
      spin: () => spin,
    });
    expect(await registry.metrics()).toMatch(/^xlane_engine_spin_margin_seconds nan$/im);
    spin = { auto: true, marginNs: 30_000, wakeSamples: 10, wakeLateQuantileNs: -1 };
    expect(await registry.metrics()).toContain('xlane_engine_spin_margin_seconds 0.00003');
    expect(await registry.metrics()).toMatch(/^xlane_engine_wake_late_p999_seconds nan$/im);
    spin = { auto: true, marginNs: 82_000, wakeSamples: 640, wakeLateQuantileNs: 77_000 };
    expect(await registry.metrics()).toContain('xlane_engine_spin_margin_seconds 0.000082');
    expect(await registry.metrics()).toContain('xlane_engine_wake_late_p999_seconds 0.000077');
  });

  it('shows the realtime offset measurement grant phases are converted with: NaN until needed, then its error, and how often it moved', async () => {
    let measured = { offsetNs: 5_000n, uncertaintyNs: 400n };
    let now = 0;
    const offset = new RealtimeOffset(
      () => measured,
      60_000,
      1_000n,
      () => now,
    );
    const registry = createAgentMetrics({
      engine: new FakeEngine(),
      latency: new LatencyRecorder(),
      status: () => ({ epoch: 1, version: 1, connected: true, lanes: 0 }),
      qosErrors: () => 0,
      realtimeOffset: offset,
    });
    const scrape = async () => registry.metrics();
    expect(await scrape()).toMatch(/^xlane_agent_realtime_offset_uncertainty_seconds nan$/im);
    expect(await scrape()).toContain('xlane_agent_realtime_offset_changes_total 0');
    offset.get();
    expect(await scrape()).toContain('xlane_agent_realtime_offset_uncertainty_seconds 4e-7');
    measured = { offsetNs: 25_000n, uncertaintyNs: 300n }; // a 20 µs clock step
    now = 60_000;
    expect(offset.get()).toBe(25_000n);
    expect(await scrape()).toContain('xlane_agent_realtime_offset_uncertainty_seconds 3e-7');
    expect(await scrape()).toContain('xlane_agent_realtime_offset_changes_total 1');
  });

  it('serves engine counters, drops, histogram and status; 404 elsewhere', async () => {
    const engine = new FakeEngine();
    const latency = new LatencyRecorder();
    latency.configure('L1', 20_000, 100_000);
    const registry = createAgentMetrics({
      engine,
      latency,
      status: () => ({ epoch: 7, version: 12, connected: true, lanes: 1 }),
      qosErrors: () => 0,
    });
    const server = await startMetricsServer('127.0.0.1:0', registry);
    closers.push(() => server.close());

    engine.lanes.set('L1', laneCounters('L1', { received: 3, late: 1, lost: 2 }));
    engine.dropped.staleEpoch = 4;
    latency.record('L1', 30_000);
    latency.record('L1', 150_000);
    const text = await (await fetch(server.url)).text();
    expect(text).toContain('xlane_lane_received_total{lane="L1"} 3');
    expect(text).toContain('xlane_lane_late_total{lane="L1"} 1');
    expect(text).toContain('xlane_lane_lost_total{lane="L1"} 2');
    expect(text).toContain('xlane_engine_dropped_total{reason="staleEpoch"} 4');
    expect(text).toContain('xlane_engine_dropped_total{reason="unknownLane"} 0');
    expect(text).toContain('xlane_lane_latency_us_bucket{lane="L1",le="40"} 1');
    expect(text).toContain('xlane_lane_latency_us_bucket{lane="L1",le="150"} 2');
    expect(text).toContain('xlane_lane_latency_us_bucket{lane="L1",le="+Inf"} 2');
    expect(text).toContain('xlane_lane_latency_us_sum{lane="L1"} 180');
    expect(text).toContain('xlane_grant_epoch 7');
    expect(text).toContain('xlane_controller_connected 1');

    // Pulled on every scrape: the next scrape sees the engine's new numbers, and removed lanes vanish.
    engine.lanes.set('L1', laneCounters('L1', { received: 10 }));
    engine.lanes.set('L2', laneCounters('L2', { sent: 5, lateReleases: 2, maxReleaseDelayNs: 250_000 }));
    const again = await (await fetch(server.url)).text();
    expect(again).toContain('xlane_lane_received_total{lane="L1"} 10');
    expect(again).toContain('xlane_lane_sent_total{lane="L2"} 5');
    expect(again).toContain('xlane_lane_late_releases_total{lane="L2"} 2');
    expect(again).toContain('xlane_lane_max_release_delay_seconds{lane="L2"} 0.00025');
    // A lane that never sent has no release delay to show.
    expect(again).not.toContain('xlane_lane_max_release_delay_seconds{lane="L1"}');
    engine.lanes.delete('L1');
    expect(await (await fetch(server.url)).text()).not.toContain('xlane_lane_received_total{lane="L1"}');

    expect((await fetch(server.url.replace('/metrics', '/'))).status).toBe(404);
  });

  it('refuses a bad address clearly', async () => {
    const registry = createAgentMetrics({
      engine: new FakeEngine(),
      latency: new LatencyRecorder(),
      status: () => ({ epoch: 0, version: 0, connected: false, lanes: 0 }),
      qosErrors: () => 0,
    });
    await expect(startMetricsServer('9464', registry)).rejects.toMatchObject({ code: 'XL_ERR_VALIDATION' });
  });
});
