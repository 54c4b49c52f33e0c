// The receive-side rules the agent's grant handling depends on (js engine's lane table):
// - epochs are global, and an agent that resynced from a snapshot can skip one of a lane's grants;
//   its sender may still be on the skipped one, which is not stale (protocol.md, check 7);
// - the drops decided once the lane is known are charged to the lane too, so /metrics can show
//   them per lane (xlane_lane_dropped_total{lane,reason}).
import { describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../src/agent/metrics/agent-metrics.js';
import { LatencyRecorder } from '../../src/agent/metrics/latency-recorder.js';
import { MAX_PAYLOAD_BYTES } from '../../src/alloc/wire.js';
import { FrameReceiver } from '../../src/engine/receive/frame-receiver.js';
import type { EngineCounters, ReceiverSpec } from '../../src/engine/types.js';
import { ClockKind } from '../../src/engine/wire/format.js';
import { encodeFrame } from '../engine/helpers.js';

const SPEC: ReceiverSpec = {
  laneId: 'L1',
  wireId: 1,
  epoch: 5,
  senderAddress: '10.0.0.1',
  maxPayloadBytes: 16,
  lambdaMinNs: 1_000,
  lambdaMaxNs: 10_000,
};
const SENDER = '10.0.0.1';

const frame = (seq: number, epoch: number, bytes = 4, wireId = 1) =>
  encodeFrame({ wireId, epoch, seq, sentNs: 0 }, Buffer.alloc(bytes));

describe('a receiver that skipped a grant', () => {
  it('accepts a sender still on the skipped grant, and drops only epochs older than both it holds', () => {
    const r = new FrameReceiver(ClockKind.MONOTONIC);
    r.table.set(SPEC); // grant at epoch 5
    // The grant of epoch 7 never reached this receiver (it resynced); the next one is epoch 9.
    r.table.set({ ...SPEC, epoch: 9, maxPayloadBytes: 8 });
    expect(r.receive(frame(0, 7), SENDER, 0)).toBeNull();
    // A grant it never saw may have allowed more than it knows: held only to the frame limit.
    expect(r.receive(frame(1, 7, MAX_PAYLOAD_BYTES), SENDER, 0)).toBeNull();
    expect(r.receive(frame(2, 7, MAX_PAYLOAD_BYTES + 1), SENDER, 0)).toBe('oversize');
    expect(r.receive(frame(3, 5, 16), SENDER, 0)).toBeNull(); // the previous grant, its own σ_max
    expect(r.receive(frame(4, 5, 17), SENDER, 0)).toBe('oversize');
    expect(r.receive(frame(5, 9, 9), SENDER, 0)).toBe('oversize');
    expect(r.receive(frame(6, 4), SENDER, 0)).toBe('staleEpoch'); // older than both
    expect(r.dropped.staleEpoch).toBe(1);
  });

  it('with no previous grant (a fresh receiver), anything older than the current epoch is stale', () => {
    const r = new FrameReceiver(ClockKind.MONOTONIC);
    r.table.set({ ...SPEC, epoch: 9 });
    expect(r.receive(frame(0, 8), SENDER, 0)).toBe('staleEpoch');
    expect(r.receive(frame(1, 9), SENDER, 0)).toBeNull();
  });
});

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
