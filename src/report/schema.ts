// The TypeBox mirror of src/bench/interference-types.ts: what `xlane report` accepts from
// RUN_DIR/interference.json. Extra keys are allowed (a newer bench may add some); a type check at the
// bottom fails the build when this schema and the contract drift apart.
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import type {
  InterferenceRecord,
  InterferenceRunDetail,
  LaneLatencyDetail,
} from '../bench/interference-types.js';

const Us = Type.Number({ minimum: 0, description: 'a latency in µs (≥ 0)' });
const Count = Type.Integer({ minimum: 0, description: 'a count (whole number ≥ 0)' });
const Fraction = Type.Number({ minimum: 0, maximum: 1, description: 'a fraction between 0 and 1' });
/** Seconds since the run started; negative before it (the bulk flow warms up before the lanes). */
const Seconds = Type.Number({ description: 'seconds since the run started' });

/** The figures the bench computes from a lane's delivered messages: NaN when none arrived, and
 * JSON.stringify writes NaN as null. The report reads them as "no messages", never as 0. */
export const NO_DATA_FIELDS = ['p50Us', 'p99Us', 'p999Us', 'maxUs', 'withinBound', 'tightness'] as const;
type NoDataField = (typeof NO_DATA_FIELDS)[number];
/** The same, among the fields older records do not have. */
export const OPTIONAL_NO_DATA_FIELDS = ['p9999Us', 'tightnessFloor', 'sendRate'] as const;
type OptionalNoDataField = (typeof OPTIONAL_NO_DATA_FIELDS)[number];

function orNoData<T extends TSchema>(figure: T, what: string) {
  return Type.Union([figure, Type.Null()], { description: `${what}, or null for a lane without messages` });
}

const Mode = Type.Union([Type.Literal('idle'), Type.Literal('express'), Type.Literal('fifo')], {
  description: '"idle", "express" or "fifo"',
});

const laneSummaryFields = {
  lane: Type.String(),
  name: Type.String(),
  from: Type.String(),
  to: Type.String(),
  periodNs: Type.Number({ exclusiveMinimum: 0 }),
  payloadBytes: Count,
  lambdaMinUs: Us,
  boundUs: Us,
  p50Us: orNoData(Us, 'a latency in µs (≥ 0)'),
  p99Us: orNoData(Us, 'a latency in µs (≥ 0)'),
  p999Us: orNoData(Us, 'a latency in µs (≥ 0)'),
  p9999Us: Type.Optional(orNoData(Us, 'a latency in µs (≥ 0)')),
  maxUs: orNoData(Us, 'a latency in µs (≥ 0)'),
  withinBound: orNoData(Fraction, 'a fraction between 0 and 1'),
  messages: Count,
  lost: Count,
  // Not a fraction: frames may come π − E apart, so a lane can send a hair more than 1 per period.
  sendRate: Type.Optional(orNoData(Type.Number({ minimum: 0 }), 'a share of periods (≥ 0)')),
  outliers: Count,
  outlierCauses: Type.Optional(
    Type.Object({
      early: Count,
      late: Count,
      lateInReceiver: Count,
      lateOnArrival: Count,
      lateUnknown: Count,
    }),
  ),
  tightness: orNoData(Type.Number({ minimum: 0 }), 'a ratio (≥ 0)'),
  tightnessFloor: Type.Optional(orNoData(Type.Number({ minimum: 0 }), 'a ratio (≥ 0)')),
};

const LaneDetail = Type.Object({
  ...laneSummaryFields,
  cdf: Type.Array(Type.Object({ latencyUs: Us, fraction: Fraction })),
  series: Type.Array(Type.Object({ tSec: Seconds, p50Us: Us, p99Us: Us, maxUs: Us, messages: Count })),
  firstOutliers: Type.Array(Type.Object({ tSec: Seconds, latencyUs: Type.Number() })),
});

const RunDetail = Type.Object({
  mode: Mode,
  bulkMbps: Type.Number({ minimum: 0 }),
  lanes: Type.Array(LaneDetail),
  seconds: Type.Number({ minimum: 0, description: 'seconds (≥ 0)' }),
  startedAt: Type.String(),
  bulk: Type.Array(Type.Object({ tSec: Seconds, mbps: Type.Number({ minimum: 0 }) })),
  engine: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
  bottleneckExpressPackets: Type.Optional(Count),
  receiverEngine: Type.Optional(Type.Object({ ringFullWaits: Count, backupReads: Count })),
  linkMbps: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
  cpuShare: Type.Optional(Type.Object({ busy: Fraction, steal: Fraction })),
});

/** true / false, or null when the runs could not judge it (a mode it compares did not run). */
const Verdict = Type.Union([Type.Boolean(), Type.Null()]);

const AllocationLane = Type.Object({
  lane: Type.String(),
  name: Type.String(),
  from: Type.String(),
  to: Type.Array(Type.String()),
  payloadBytes: Count,
  periodNs: Type.Number({ exclusiveMinimum: 0 }),
  phaseNs: Type.Optional(Type.Integer({ minimum: 0 })),
  lambdaMinUs: Us,
  lambdaMaxUs: Us,
  path: Type.Array(Type.String()),
});

const AllocationPort = Type.Object({
  from: Type.String(),
  to: Type.String(),
  rateBps: Type.Number({ minimum: 0 }),
  expressShare: Fraction,
  expressLoadBps: Type.Number({ minimum: 0 }),
  delayBoundUs: Us,
});

const HostBoundsRow = Type.Object({
  host: Type.String(),
  source: Type.String(),
  sendUs: Type.Tuple([Us, Us]),
  recvUs: Type.Tuple([Us, Us]),
  observedMaxUs: Type.Optional(Type.Number()),
  samples: Type.Optional(Count),
  calibrationRingFullWaits: Type.Optional(Count),
});

export const InterferenceRecordSchema = Type.Object({
  kind: Type.Literal('xlane-interference', { description: 'the string "xlane-interference"' }),
  version: Type.Literal(1, { description: 'version 1' }),
  createdAt: Type.String(),
  command: Type.String(),
  topology: Type.String(),
  machine: Type.Object({ cpus: Count, loadAvg1: Type.Number(), kernel: Type.String() }),
  allocation: Type.Object({ lanes: Type.Array(AllocationLane), ports: Type.Array(AllocationPort) }),
  hostBounds: Type.Optional(Type.Array(HostBoundsRow)),
  runs: Type.Array(RunDetail),
  targets: Type.Optional(
    Type.Object({
      expressP99AtMost1_5xIdle: Verdict,
      fifoP99AtLeast10xExpress: Verdict,
      withinBoundAtLeast99_99: Verdict,
      tightnessAtMost5: Verdict,
      bulkWithin10PctOfLink: Verdict,
      atLeast100kMessagesPerLane: Verdict,
    }),
  ),
  notes: Type.Array(Type.String()),
});

// The contract as the file holds it: the bench's in-memory record types these figures `number`
// (NaN included), the file has null in their place. Derived from the contract, not written out, so
// the check below still catches any other drift.
type Saved<T, K extends keyof T, O extends keyof T> = Omit<T, K | O> & { [P in K]: T[P] | null } & {
  [P in O]?: Exclude<T[P], undefined> | null;
};
export type SavedLaneDetail = Saved<LaneLatencyDetail, NoDataField, OptionalNoDataField>;
export type SavedRunDetail = Omit<InterferenceRunDetail, 'lanes'> & { lanes: SavedLaneDetail[] };
/** What `xlane report` draws: a validated interference.json. The bench's InterferenceRecord fits. */
export type SavedRecord = Omit<InterferenceRecord, 'runs'> & { runs: SavedRunDetail[] };

// Compile-time guard: both directions must be assignable, or tsc reports `false` is not `true` here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesContract: Same<Static<typeof InterferenceRecordSchema>, SavedRecord> = true;
void schemaMatchesContract;
