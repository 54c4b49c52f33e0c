import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  loadTopologyFile,
  parseTopology,
  topologyToYaml,
  validateTopologySpec,
} from '../../src/topology/load.js';
import type { HostSpec, LinkSpec, SwitchSpec, TopologySpec } from '../../src/topology/spec.js';
import { topologyToDocument } from '../../src/topology/write.js';

const nodeName = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,8}$/),
  // Plain scalars YAML would read as null, booleans or numbers: the writer must quote them.
  fc.constantFrom('null', 'true', 'False', 'NULL', '123', '1e3', '0x1f', '1.5', '1h', 'yes', 'off'),
);
const rate = fc.oneof(fc.integer({ min: 1e3, max: 1e12 }), fc.double({ min: 1e3, max: 1e13, noNaN: true }));
// Math.abs: a generated -0 would parse back as 0, which is the same number for every purpose.
const duration = fc
  .oneof(fc.integer({ min: 0, max: 1e9 }), fc.double({ min: 0, max: 1e9, noNaN: true }))
  .map(Math.abs);
const latency = fc
  .tuple(duration, duration)
  .map(([x, y]) => ({ minNs: Math.min(x, y), maxNs: Math.max(x, y) }));
const size = fc.integer({ min: 1, max: 2 ** 30 });
const share = fc.oneof(fc.constantFrom(0.2, 0.5, 1), fc.double({ min: 0.001, max: 1, noNaN: true }));

const specArb: fc.Arbitrary<TopologySpec> = fc
  .record({
    names: fc.uniqueArray(nodeName, { minLength: 2, maxLength: 12 }),
    hostShare: fc.double({ min: 0, max: 1, noNaN: true }),
    title: fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
    mtu: fc.integer({ min: 576, max: 9000 }),
    frameExtra: fc.integer({ min: 0, max: 100 }),
    dscp: fc.integer({ min: 0, max: 63 }),
    port: fc.integer({ min: 1, max: 65535 }),
    seed: fc.infiniteStream(fc.nat()),
    uniform: fc.boolean(),
  })
  .chain((base) => {
    const hostCount = Math.max(
      1,
      Math.min(base.names.length - 1, Math.round(base.hostShare * base.names.length)),
    );
    const hostNames = base.names.slice(0, hostCount);
    const switchNames = base.names.slice(hostCount);
    // `uniform` fabrics exercise the writer's defaults section; varied ones the per-node values.
    const pick = <T>(arb: fc.Arbitrary<T>, n: number) =>
      base.uniform
        ? arb.map((v) => Array.from({ length: n }, () => v))
        : fc.array(arb, { minLength: n, maxLength: n });
    const hostArb = fc
      .tuple(
        pick(rate, hostCount),
        pick(latency, hostCount),
        pick(latency, hostCount),
        pick(size, hostCount),
        // Optional, so also absent on some hosts only (the writer must not factor it then).
        pick(fc.option(duration, { nil: undefined }), hostCount),
      )
      .map(([rates, sends, recvs, buffers, jitters]) =>
        hostNames.map(
          (name, i): HostSpec => ({
            name,
            nicRateBps: rates[i]!,
            send: sends[i]!,
            recv: recvs[i]!,
            bufferBytes: buffers[i]!,
            ...(jitters[i] !== undefined ? { releaseJitterNs: jitters[i] } : {}),
          }),
        ),
      );
    const switchArb = fc
      .tuple(pick(latency, switchNames.length), pick(size, switchNames.length))
      .map(([fwd, buffers]) =>
        switchNames.map(
          (name, i): SwitchSpec => ({ name, forwarding: fwd[i]!, portBufferBytes: buffers[i]! }),
        ),
      );
    const allNames = [...hostNames, ...switchNames];
    const extraPairs = fc.uniqueArray(
      fc
        .tuple(fc.nat(allNames.length - 1), fc.nat(allNames.length - 1))
        .filter(([x, y]) => x !== y)
        .map(([x, y]) => [allNames[x]!, allNames[y]!] as const),
      { maxLength: 6, selector: ([x, y]) => (x < y ? `${x} ${y}` : `${y} ${x}`) },
    );
    const linkArb = fc
      .tuple(extraPairs, fc.array(fc.nat(), { minLength: hostCount, maxLength: hostCount }))
      .chain(([extra, uplinks]) => {
        const pairs: (readonly [string, string])[] = [];
        const seen = new Set<string>();
        const add = (x: string, y: string) => {
          const key = x < y ? `${x} ${y}` : `${y} ${x}`;
          if (seen.has(key)) return;
          seen.add(key);
          pairs.push([x, y]);
        };
        for (const [i, h] of hostNames.entries()) add(h, switchNames[uplinks[i]! % switchNames.length]!);
        for (const [x, y] of extra) add(x, y);
        return fc
          .tuple(pick(rate, pairs.length), pick(duration, pairs.length), pick(share, pairs.length))
          .map(([rates, props, shares]) =>
            pairs.map(
              ([a, b], i): LinkSpec => ({
                a,
                b,
                rateBps: rates[i]!,
                propagationNs: props[i]!,
                expressShare: shares[i]!,
              }),
            ),
          );
      });
    return fc.tuple(hostArb, switchArb, linkArb).map(
      ([hosts, switches, links]): TopologySpec => ({
        name: base.title,
        mtuBytes: base.mtu,
        maxFrameBytes: base.mtu + 38 + base.frameExtra,
        expressDscp: base.dscp,
        expressPort: base.port,
        hosts,
        switches,
        links,
      }),
    );
  });

describe('topologyToYaml', () => {
  it('parseTopology(topologyToYaml(spec)) deep-equals spec (property)', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        expect(parseTopology(topologyToYaml(spec))).toEqual(spec);
      }),
      { numRuns: 150 },
    );
  });

  it('the document form validates back to the same spec (property)', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        // Through JSON, as an API body would travel.
        const body: unknown = JSON.parse(JSON.stringify(topologyToDocument(spec)));
        expect(validateTopologySpec(body)).toEqual(spec);
      }),
      { numRuns: 100 },
    );
  });

  it('writes shared values once, in defaults, and a header comment', () => {
    const spec = loadTopologyFile(new URL('../../examples/testbed-3.yaml', import.meta.url).pathname);
    const text = topologyToYaml(spec, { comment: 'made by a test\nsecond line' });
    expect(text.startsWith('# made by a test\n# second line\n')).toBe(true);
    const doc = parse(text);
    expect(doc.defaults.host).toEqual({
      nicRate: '1Gbit',
      sendLatency: { min: '5us', max: '50us' },
      recvLatency: { min: '5us', max: '50us' },
      buffer: '1MiB',
      releaseJitter: '20us',
    });
    expect(doc.defaults.link).toEqual({ rate: '1Gbit', propagation: '100ns' });
    expect(doc.expressShare).toBe(0.2);
    expect(doc.hosts).toEqual([{ name: 'h1' }, { name: 'h2' }, { name: 'h3' }]);
    expect(doc.links[0]).toEqual({ a: 'h1', b: 's1', serializes: false });
    expect(parseTopology(text)).toEqual(spec);
  });
});
