// TypeBox schemas of every body, param and query of the /v1 API, and of the watch messages.
// Unknown fields are refused (additionalProperties: false): a typo such as `maxPayload` must not
// silently become a lane with default values. Except in what only agents send, the register body
// and the watch messages: there a newer agent may say more than this controller knows, and is
// served all the same (the compatibility rule of src/control-protocol.ts).
import { type Static, Type } from '@sinclair/typebox';
import { MAX_PAYLOAD_BYTES } from '../alloc/wire.js';

/** A string out of a few: an enum, so a wrong value is one error naming them all (a union of
 * literals gives one error per literal, then one for the union). */
function oneOf<const T extends readonly string[]>(values: T) {
  return Type.Unsafe<T[number]>(Type.String({ enum: [...values] }));
}

const Name = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' });
/** Nanoseconds; an hour is far beyond any sane lane period and keeps the arithmetic exact. */
const Nanos = Type.Number({ exclusiveMinimum: 0, maximum: 3.6e12 });

export const LaneRequestBody = Type.Object(
  {
    name: Type.Optional(Name),
    sender: Name,
    receivers: Type.Array(Name, { minItems: 1, maxItems: 1024, uniqueItems: true }),
    maxPayloadBytes: Type.Integer({ minimum: 1, maximum: MAX_PAYLOAD_BYTES }),
    minPeriodNs: Nanos,
    deadlineNs: Type.Optional(Nanos),
    minPayloadBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAYLOAD_BYTES })),
    maxPeriodNs: Type.Optional(Nanos),
    policy: Type.Optional(oneOf(['reject', 'coalesce'])),
  },
  { additionalProperties: false },
);
export type LaneRequestBody = Static<typeof LaneRequestBody>;

export const OpenLaneQuery = Type.Object(
  {
    wait: Type.Optional(Type.Literal('live')),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 300_000 })),
  },
  { additionalProperties: false },
);

export const LaneIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const HostParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 128 }) });
export const LinkParams = Type.Object({
  a: Type.String({ minLength: 1, maxLength: 128 }),
  b: Type.String({ minLength: 1, maxLength: 128 }),
});

export const ForceQuery = Type.Object(
  { force: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export const HostQuery = Type.Object({ host: Name }, { additionalProperties: false });
export const WatchQuery = Type.Object({ host: Type.Optional(Name) }, { additionalProperties: false });

/** A protocol is checked against those served before these schemas (routes/hosts.ts, hub.ts): one
 * the controller does not serve is XL_ERR_VERSION, whatever else the body or hello holds. */
const AgentProtocol = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const AgentVersion = Type.String({ maxLength: 64 });

export const RegisterBody = Type.Object(
  {
    agentVersion: Type.Optional(AgentVersion),
    protocol: Type.Optional(AgentProtocol),
    engine: Type.Optional(Type.String({ maxLength: 64 })),
    clockDomain: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: true },
);

/** A latency bound of the host stack; min ≤ max is checked by the lifecycle (XL_ERR_VALIDATION). */
const LatencyRangeBody = Type.Object(
  {
    minNs: Type.Number({ minimum: 0, maximum: 3.6e12 }),
    maxNs: Type.Number({ minimum: 0, maximum: 3.6e12 }),
  },
  { additionalProperties: false },
);
const Quantity = Type.Number({ minimum: 0, maximum: 3.6e12 });

/** How the bounds were measured: stored and shown by GET /v1/hosts, never interpreted. */
const MeasurementBody = Type.Object(
  {
    samples: Type.Integer({ minimum: 1 }),
    periodNs: Nanos,
    durationNs: Type.Optional(Nanos),
    method: Type.Optional(Type.String({ maxLength: 64 })),
    engine: Type.Optional(Type.String({ maxLength: 64 })),
    quantile: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    safetyFactor: Type.Optional(Type.Number({ minimum: 1, maximum: 1000 })),
    keepObservedMax: Type.Optional(Type.Boolean()),
    sendShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    minFactor: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    lost: Type.Optional(Type.Integer({ minimum: 0 })),
    ringFullWaits: Type.Optional(Type.Integer({ minimum: 0 })),
    observed: Type.Optional(
      Type.Object(
        {
          minNs: Quantity,
          p50Ns: Type.Optional(Quantity),
          p99Ns: Type.Optional(Quantity),
          quantileNs: Type.Optional(Quantity),
          maxNs: Quantity,
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** PUT /v1/hosts/:name/latency. */
export const HostLatencyBody = Type.Object(
  {
    sendLatency: LatencyRangeBody,
    recvLatency: LatencyRangeBody,
    measured: Type.Optional(MeasurementBody),
  },
  { additionalProperties: false },
);
export type HostLatencyBody = Static<typeof HostLatencyBody>;

/** GET /v1/topology: the normalised spec (JSON, ns / bit/s / bytes) or the YAML file text. */
export const TopologyQuery = Type.Object(
  { format: Type.Optional(oneOf(['json', 'yaml'])) },
  { additionalProperties: false },
);

/** PUT /v1/topology: a JSON object in the YAML file's shape (units allowed), or the YAML text itself. */
export const TopologyBody = Type.Union([Type.String(), Type.Object({}, { additionalProperties: true })]);

export const ClientMessage = Type.Union([
  Type.Object(
    {
      type: Type.Literal('hello'),
      host: Name,
      version: Type.Optional(Type.Integer({ minimum: 0 })),
      agentVersion: Type.Optional(AgentVersion),
      protocol: Type.Optional(AgentProtocol),
    },
    { additionalProperties: true },
  ),
  Type.Object(
    { type: Type.Literal('ack'), version: Type.Integer({ minimum: 0 }) },
    { additionalProperties: true },
  ),
]);
export type ClientMessage = Static<typeof ClientMessage>;
