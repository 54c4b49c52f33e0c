// The agent's Prometheus metrics, in a registry of its own. Nothing here runs per packet: lane
// counters are read from engine.counters() when /metrics is scraped, and the latency histogram
// from the recorder the delivery path fills.
import { Counter, Gauge, type Metric, Registry } from 'prom-client';
import type { RealtimeOffset } from '../../engine/clock.js';
import type { SpinStats } from '../../engine/spin-setting.js';
import {
  DROP_REASONS,
  type Engine,
  type EngineCounters,
  LANE_DROP_REASONS,
  type LaneCounters,
} from '../../engine/types.js';
import type { ClientDrops } from './client-drops.js';
import type { LatencyRecorder } from './latency-recorder.js';

export interface AgentStatus {
  epoch: number;
  /** The watch version applied last, and the one acknowledged (lower while grants fail to apply). */
  version: number;
  ackedVersion?: number;
  connected: boolean;
  lanes: number;
}

export interface AgentMetricsSources {
  engine: Pick<Engine, 'counters'>;
  latency: LatencyRecorder;
  status(): AgentStatus;
  qosErrors(): number;
  /** Each lane's grant epoch, as this agent holds it. */
  laneEpochs?(): Iterable<[laneId: string, epoch: number]>;
  /** Grant versions that could not be applied in full (and were therefore not acknowledged). */
  grantApplyErrors?(): number;
  /** Lanes of this host the engine does not hold as granted right now. */
  lanesNotConfigured?(): number;
  /** Deliveries and failure-detector events the local API dropped for clients that did not read. */
  clientDrops?: ClientDrops;
  /** The CLOCK_REALTIME − CLOCK_MONOTONIC measurement grant phases are converted with. */
  realtimeOffset?: Pick<RealtimeOffset, 'current' | 'changes'>;
  /** The engine's spin margin before boundaries and deadlines (spinStatsOf). */
  spin?(): SpinStats | undefined;
}

const LANE_COUNTERS = [
  ['sent', 'Messages sent on the lane'],
  [
    'refused',
    'Sends refused by the lane contract (too big; policy reject: the previous message still waiting)',
  ],
  ['coalesced', 'Sends that replaced a pending message (policy coalesce)'],
  [
    'late_releases',
    "Frames the engine released later than due by more than max(E, 10 us): this host's jitter",
  ],
  [
    'received',
    'Frames accepted on the lane, heartbeat-only frames included (delivered to the application or not)',
  ],
  ['lost', 'Sequence gaps that never filled'],
  ['reordered', 'Messages that arrived after a later one'],
  ['late', 'Messages received later than the granted lambda_max'],
  ['early', 'Messages received sooner than the granted lambda_min'],
] as const;

type NumericCounter = Exclude<keyof LaneCounters, 'laneId' | 'latency' | 'dropped'>;
/** Metric name part → counter field (snake_case in Prometheus, camelCase in the engine). */
const COUNTER_FIELD: Record<(typeof LANE_COUNTERS)[number][0], NumericCounter> = {
  sent: 'sent',
  refused: 'refused',
  coalesced: 'coalesced',
  late_releases: 'lateReleases',
  received: 'received',
  lost: 'lost',
  reordered: 'reordered',
  late: 'late',
  early: 'early',
};

export function createAgentMetrics(src: AgentMetricsSources): Registry {
  const registry = new Registry();
  // One engine.counters() call per scrape, shared by every metric that reads it.
  let cached: EngineCounters | undefined;
  const snapshot = (): EngineCounters => {
    if (!cached) {
      cached = src.engine.counters();
      setImmediate(() => {
        cached = undefined;
      });
    }
    return cached;
  };
  for (const [key, help] of LANE_COUNTERS) {
    new Counter({
      name: `xlane_lane_${key}_total`,
      help,
      labelNames: ['lane'],
      registers: [registry],
      collect() {
        this.reset();
        for (const lane of snapshot().lanes) this.inc({ lane: lane.laneId }, lane[COUNTER_FIELD[key]]);
      },
    });
  }
  new Gauge({
    name: 'xlane_lane_max_release_delay_seconds',
    help: 'Largest delay between when a frame was due and when the engine released it',
    labelNames: ['lane'],
    registers: [registry],
    collect() {
      this.reset();
      for (const lane of snapshot().lanes)
        if (lane.sent > 0) this.set({ lane: lane.laneId }, lane.maxReleaseDelayNs / 1e9);
    },
  });
  new Counter({
    name: 'xlane_engine_dropped_total',
    help: 'Received datagrams dropped by the engine, by reason (the engine cannot always tell the lane)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      const dropped = snapshot().dropped;
      for (const r of DROP_REASONS) this.inc({ reason: r }, dropped[r] ?? 0);
    },
  });
  new Counter({
    name: 'xlane_lane_dropped_total',
    help: 'Received frames dropped on the lane, by reason (only reasons decided once the lane is known)',
    labelNames: ['lane', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const lane of snapshot().lanes)
        for (const r of LANE_DROP_REASONS) this.inc({ lane: lane.laneId, reason: r }, lane.dropped[r]);
    },
  });
  new Gauge({
    name: 'xlane_lane_grant_epoch',
    help: "Allocation epoch of the lane's grant this agent holds",
    labelNames: ['lane'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [lane, epoch] of src.laneEpochs?.() ?? []) this.set({ lane }, epoch);
    },
  });
  new Gauge({
    name: 'xlane_grant_epoch',
    help: 'Allocation epoch of the grants this agent applied last',
    registers: [registry],
    collect() {
      this.set(src.status().epoch);
    },
  });
  new Gauge({
    name: 'xlane_watch_version',
    help: 'Watch version of this host that the agent applied last',
    registers: [registry],
    collect() {
      this.set(src.status().version);
    },
  });
  new Gauge({
    name: 'xlane_watch_acked_version',
    help: 'Watch version of this host that the agent acknowledged last (behind xlane_watch_version while grants fail to apply)',
    registers: [registry],
    collect() {
      this.set(src.status().ackedVersion ?? src.status().version);
    },
  });
  new Counter({
    name: 'xlane_agent_grant_apply_errors_total',
    help: 'Grant versions the agent could not apply in full, and so did not acknowledge',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.grantApplyErrors?.() ?? 0);
    },
  });
  new Gauge({
    name: 'xlane_agent_lanes_not_configured',
    help: 'Lanes of this host whose grant the engine does not hold (see the log: lane not configured)',
    registers: [registry],
    collect() {
      this.set(src.lanesNotConfigured?.() ?? 0);
    },
  });
  new Gauge({
    name: 'xlane_agent_realtime_offset_uncertainty_seconds',
    help: "Half-width of the interval known to hold CLOCK_REALTIME - CLOCK_MONOTONIC, which turns grant phases into the engine's clock (NaN until a lane with a phase needed it)",
    registers: [registry],
    collect() {
      const m = src.realtimeOffset?.current();
      this.set(m === undefined ? Number.NaN : Number(m.uncertaintyNs) / 1e9);
    },
  });
  new Counter({
    name: 'xlane_agent_realtime_offset_changes_total',
    help: 'Times that measurement moved (a realtime clock step, or a much narrower measurement): each re-phases the senders',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.realtimeOffset?.changes() ?? 0);
    },
  });
  new Gauge({
    name: 'xlane_engine_spin_margin_seconds',
    help: "How long before a send boundary or liveness deadline the engine's thread stops sleeping and spins (learned with --spin-us auto)",
    registers: [registry],
    collect() {
      const s = src.spin?.();
      this.set(s === undefined ? Number.NaN : s.marginNs / 1e9);
    },
  });
  new Gauge({
    name: 'xlane_engine_wake_late_p999_seconds',
    help: "99.9th percentile of how late the engine thread's last 1,024 timed sleeps ended, the margin's source (NaN: a fixed margin, or not learned yet)",
    registers: [registry],
    collect() {
      const q = src.spin?.()?.wakeLateQuantileNs ?? -1;
      this.set(q < 0 ? Number.NaN : q / 1e9);
    },
  });
  new Gauge({
    name: 'xlane_controller_connected',
    help: '1 while the watch stream to the controller is up (lanes keep running either way)',
    registers: [registry],
    collect() {
      this.set(src.status().connected ? 1 : 0);
    },
  });
  new Gauge({
    name: 'xlane_lanes',
    help: 'Lanes concerning this host (as sender or receiver)',
    registers: [registry],
    collect() {
      this.set(src.status().lanes);
    },
  });
  new Counter({
    name: 'xlane_qos_errors_total',
    help: 'Failed kernel QoS reconciliations',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.qosErrors());
    },
  });
  const drops = src.clientDrops;
  if (drops) {
    new Counter({
      name: 'xlane_local_dropped_deliveries_total',
      help: 'Deliveries dropped because a local client did not read (its connection backlog was over the limit)',
      labelNames: ['lane'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [lane, n] of drops.deliveries()) this.inc({ lane }, n);
      },
    });
    new Counter({
      name: 'xlane_local_dropped_fd_events_total',
      help: 'Failure-detector events dropped because a local client did not read',
      labelNames: ['group'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [group, n] of drops.fdEvents()) this.inc({ group }, n);
      },
    });
  }
  registry.registerMetric(latencyHistogram(src.latency) as unknown as Metric);
  return registry;
}

/** A histogram whose buckets differ per lane (around each lane's window), which prom-client's own
 * Histogram cannot express; the exposition format allows it per series. */
function latencyHistogram(rec: LatencyRecorder) {
  const name = 'xlane_lane_latency_us';
  const help = 'One-way latency of delivered messages (µs), buckets around the lane window';
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [lane, h] of rec.entries()) {
        let cum = 0;
        h.boundsUs.forEach((le, i) => {
          cum += h.counts[i]!;
          values.push({ labels: { lane, le }, value: cum, metricName: `${name}_bucket` });
        });
        values.push({ labels: { lane, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` });
        values.push({ labels: { lane }, value: h.sumNs / 1000, metricName: `${name}_sum` });
        values.push({ labels: { lane }, value: h.count, metricName: `${name}_count` });
      }
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
  };
}
