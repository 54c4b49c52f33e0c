// The shape of a topology file (YAML) or API body (JSON) before units are resolved. Structure
// and types only: ranges, units and cross-references are checked by normalise.ts, which can word
// those errors far better than a schema can. Every object is closed (additionalProperties:false)
// so a typo such as `nicrate` is an error instead of a silently ignored key.
import { type Static, Type } from '@sinclair/typebox';

const Rate = Type.Union([Type.Number(), Type.String()], {
  description: 'a rate: a number in bit/s or a string such as "10Gbit"',
});
const Duration = Type.Union([Type.Number(), Type.String()], {
  description: 'a duration: a number in ns or a string such as "1.5us"',
});
const Size = Type.Union([Type.Number(), Type.String()], {
  description: 'a size: a number of bytes or a string such as "256KiB"',
});
const LatencyRange = Type.Object({ min: Duration, max: Duration }, { additionalProperties: false });
const Latency = Type.Union([Type.Number(), Type.String(), LatencyRange], {
  description: 'a latency: one duration (min = max) or { min: <duration>, max: <duration> }',
});
const Name = Type.String({ description: 'a node name' });

const hostFields = {
  nicRate: Type.Optional(Rate),
  sendLatency: Type.Optional(Latency),
  recvLatency: Type.Optional(Latency),
  buffer: Type.Optional(Size),
  releaseJitter: Type.Optional(Duration),
};
const switchFields = {
  forwardingLatency: Type.Optional(Latency),
  portBuffer: Type.Optional(Size),
};
const linkFields = {
  rate: Type.Optional(Rate),
  propagation: Type.Optional(Duration),
};

export const HostFileSchema = Type.Object({ name: Name, ...hostFields }, { additionalProperties: false });
export const SwitchFileSchema = Type.Object({ name: Name, ...switchFields }, { additionalProperties: false });
export const LinkFileSchema = Type.Object(
  {
    a: Name,
    b: Name,
    ...linkFields,
    expressShare: Type.Optional(Type.Number()),
    serializes: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const TopologyFileSchema = Type.Object(
  {
    name: Type.String(),
    mtu: Type.Optional(Type.Number()),
    maxFrame: Type.Optional(Size),
    expressShare: Type.Optional(Type.Number()),
    expressDscp: Type.Optional(Type.Number()),
    expressPort: Type.Optional(Type.Number()),
    defaults: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.Object(hostFields, { additionalProperties: false })),
          switch: Type.Optional(Type.Object(switchFields, { additionalProperties: false })),
          link: Type.Optional(Type.Object(linkFields, { additionalProperties: false })),
        },
        { additionalProperties: false },
      ),
    ),
    hosts: Type.Array(HostFileSchema, { minItems: 1 }),
    switches: Type.Optional(Type.Array(SwitchFileSchema)),
    links: Type.Array(LinkFileSchema),
  },
  { additionalProperties: false },
);

/** A topology document as written by people: human units, optional defaults. */
export type TopologyFile = Static<typeof TopologyFileSchema>;
export type RateValue = Static<typeof Rate>;
export type DurationValue = Static<typeof Duration>;
export type SizeValue = Static<typeof Size>;
export type LatencyValue = Static<typeof Latency>;
