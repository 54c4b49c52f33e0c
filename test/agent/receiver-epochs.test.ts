// The drops decided once the lane is known are charged to the lane too, so /metrics can show them
// per lane (xlane_lane_dropped_total{lane,reason}); here through the js engine's lane table, where
// every reason can be provoked without a network. Epochs between the previous and the current
// grant (protocol.md, check 7) and per-lane drops in both engines: test/engine/conformance.ts.
import { describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../src/agent/metrics/agent-metrics.js';
import { LatencyRecorder } from '../../src/agent/metrics/latency-recorder.js';
import { FrameReceiver } from '../../src/engine/receive/frame-receiver.js';
import type { EngineCounters } from '../../src/engine/types.js';
import { ClockKind } from '../../src/engine/wire/format.js';
import { encodeFrame, RECEIVER_L1 as SPEC } from '../engine/helpers.js';

const SENDER = '10.0.0.1';

const frame = (seq: number, epoch: number, bytes = 4, wireId = 1) =>
  encodeFrame({ wireId, epoch, seq, sentNs: 0 }, Buffer.alloc(bytes));

describe('per-lane drops', () => {
  it('charges to the lane what is decided once the lane is known, and reaches /metrics', async () => {
    const r = new FrameReceiver(ClockKind.MONOTONIC);
    r.table.set(SPEC);
    r.table.set({ ...SPEC, laneId: 'L2', wireId: 2 });
    r.table.set({ ...SPEC, epoch: 6 }); // previous: 5
    expect(r.receive(frame(0, 6), '10.0.0.9', 0)).toBe('wrongSender');
    expect(r.receive(frame(0, 4), SENDER, 0)).toBe('staleEpoch');
    expect(r.receive(frame(0, 6, 17), SENDER, 0)).toBe('oversize');
    expect(r.receive(frame(0, 6), SENDER, 0)).toBeNull();
    expect(r.receive(frame(0, 6), SENDER, 0)).toBe('duplicate');
    expect(r.receive(frame(200, 6), SENDER, 0)).toBeNull();
    expect(r.receive(frame(100, 6), SENDER, 0)).toBe('old');
    expect(r.receive(frame(0, 1, 4, 77), SENDER, 0)).toBe('unknownLane'); // no lane to charge
    expect(r.receive(frame(0, 1, 4, 2), SENDER, 0)).toBe('staleEpoch');

    const l1 = r.table.snapshot(r.table.get('L1')!);
    expect(l1.dropped).toEqual({ wrongSender: 1, staleEpoch: 1, oversize: 1, duplicate: 1, old: 1 });
    expect(r.table.snapshot(r.table.get('L2')!).dropped).toMatchObject({ staleEpoch: 1, wrongSender: 0 });

    const counters: EngineCounters = {
      lanes: [l1, r.table.snapshot(r.table.get('L2')!)],
      dropped: { ...r.dropped },
    };
    const registry = createAgentMetrics({
      engine: { counters: () => counters },
      latency: new LatencyRecorder(),
      status: () => ({ epoch: 6, version: 1, connected: true, lanes: 2 }),
      qosErrors: () => 0,
      laneEpochs: () => [
        ['L1', 6],
        ['L2', 5],
      ],
    });
    const text = await registry.metrics();
    expect(text).toContain('xlane_lane_dropped_total{lane="L1",reason="staleEpoch"} 1');
    expect(text).toContain('xlane_lane_dropped_total{lane="L1",reason="old"} 1');
    expect(text).toContain('xlane_lane_dropped_total{lane="L2",reason="staleEpoch"} 1');
    expect(text).toContain('xlane_lane_dropped_total{lane="L2",reason="duplicate"} 0');
    expect(text).toContain('xlane_engine_dropped_total{reason="unknownLane"} 1');
    expect(text).toContain('xlane_engine_dropped_total{reason="staleEpoch"} 2');
    expect(text).toContain('xlane_lane_grant_epoch{lane="L1"} 6');
    expect(text).toContain('xlane_lane_grant_epoch{lane="L2"} 5');
  });
});
