// Hand-built topologies for the allocator tests (the YAML loader and generator belong to another
// part of the tree; these stay independent of them on purpose).
import type { HostSpec, LinkSpec, SwitchSpec, TopologySpec } from '../../src/topology/spec.js';

export const GBIT = 1e9;

export function host(name: string, over: Partial<HostSpec> = {}): HostSpec {
  return {
    name,
    nicRateBps: 10 * GBIT,
    send: { minNs: 2000, maxNs: 5000 },
    recv: { minNs: 3000, maxNs: 8000 },
    bufferBytes: 256 * 1024,
    ...over,
  };
}

export function sw(name: string, over: Partial<SwitchSpec> = {}): SwitchSpec {
  return { name, forwarding: { minNs: 500, maxNs: 1000 }, portBufferBytes: 512 * 1024, ...over };
}

export function link(a: string, b: string, over: Partial<LinkSpec> = {}): LinkSpec {
  return { a, b, rateBps: GBIT, propagationNs: 50, expressShare: 0.2, ...over };
}

export function topology(
  hosts: HostSpec[],
  switches: SwitchSpec[],
  links: LinkSpec[],
  name = 't',
): TopologySpec {
  return {
    name,
    mtuBytes: 1500,
    maxFrameBytes: 1538,
    expressDscp: 46,
    expressPort: 7000,
    hosts,
    switches,
    links,
  };
}

/** Like examples/testbed-3.yaml: h1, h2, h3 on one switch s1, 1 Gbit/s links, 20 % express share. */
export function testbed3(): TopologySpec {
  return topology(
    ['h1', 'h2', 'h3'].map((h) => host(h)),
    [sw('s1')],
    ['h1', 'h2', 'h3'].map((h) => link(h, 's1')),
    'testbed-3',
  );
}

export interface LeafSpineShape {
  leaves: number;
  hostsPerLeaf: number;
  spines: number;
  hostRateBps?: number;
  fabricRateBps?: number;
  expressShare?: number;
}

export function leafSpine(o: LeafSpineShape): TopologySpec {
  const hosts: HostSpec[] = [];
  const switches: SwitchSpec[] = [];
  const links: LinkSpec[] = [];
  const share = o.expressShare ?? 0.2;
  for (let s = 0; s < o.spines; s++) switches.push(sw(`spine${s}`));
  for (let l = 0; l < o.leaves; l++) {
    const leaf = `leaf${l}`;
    switches.push(sw(leaf));
    for (let s = 0; s < o.spines; s++)
      links.push(link(leaf, `spine${s}`, { rateBps: o.fabricRateBps ?? 10 * GBIT, expressShare: share }));
    for (let h = 0; h < o.hostsPerLeaf; h++) {
      const name = `h${l}-${h}`;
      hosts.push(host(name));
      links.push(link(name, leaf, { rateBps: o.hostRateBps ?? GBIT, expressShare: share }));
    }
  }
  return topology(hosts, switches, links, 'leaf-spine');
}

/** n switches in a ring (r0–r1–…–r(n-1)–r0), each with `hostsPer` hosts. */
export function ring(n: number, hostsPer: number, over: Partial<LinkSpec> = {}): TopologySpec {
  const hosts: HostSpec[] = [];
  const switches: SwitchSpec[] = [];
  const links: LinkSpec[] = [];
  for (let i = 0; i < n; i++) {
    switches.push(sw(`r${i}`));
    links.push(link(`r${i}`, `r${(i + 1) % n}`, over));
    for (let h = 0; h < hostsPer; h++) {
      hosts.push(host(`h${i}-${h}`));
      links.push(link(`h${i}-${h}`, `r${i}`, over));
    }
  }
  return topology(hosts, switches, links, 'ring');
}
