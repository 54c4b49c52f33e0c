import { describe, expect, it } from 'vitest';
import { generateLeafSpine, LEAF_SPINE_DEFAULTS } from '../../src/topology/generate.js';
import { parseTopology, topologyToYaml, validateTopologySpec } from '../../src/topology/load.js';
import { topologyToDocument } from '../../src/topology/write.js';
import { thrown } from './helpers.js';

describe('generateLeafSpine', () => {
  it('builds hosts under leaves and a full leaf–spine mesh', () => {
    const spec = generateLeafSpine({ leaves: 4, hostsPerLeaf: 3, spines: 2 });
    expect(spec.name).toBe('leaf-spine-4x3-2');
    expect(spec.hosts.map((h) => h.name).join(' ')).toBe(
      'h01-01 h01-02 h01-03 h02-01 h02-02 h02-03 h03-01 h03-02 h03-03 h04-01 h04-02 h04-03',
    );
    expect(spec.switches.map((s) => s.name)).toEqual([
      'leaf01',
      'leaf02',
      'leaf03',
      'leaf04',
      'spine01',
      'spine02',
    ]);
    expect(spec.links).toHaveLength(12 + 8);
    for (const h of spec.hosts) {
      const uplinks = spec.links.filter((l) => l.a === h.name || l.b === h.name);
      expect(uplinks).toHaveLength(1);
      expect(uplinks[0]?.b).toBe(`leaf${h.name.slice(1, 3)}`);
    }
    for (const leaf of ['leaf01', 'leaf02', 'leaf03', 'leaf04']) {
      const spines = spec.links.filter((l) => l.a === leaf && l.b.startsWith('spine')).map((l) => l.b);
      expect(spines).toEqual(['spine01', 'spine02']);
    }
  });

  it('uses the documented defaults', () => {
    const spec = generateLeafSpine({ leaves: 2, hostsPerLeaf: 1, spines: 1 });
    const d = LEAF_SPINE_DEFAULTS;
    expect(spec.hosts[0]).toEqual({
      name: 'h01-01',
      nicRateBps: 10e9,
      send: { minNs: 2000, maxNs: 20_000 },
      recv: { minNs: 2000, maxNs: 20_000 },
      bufferBytes: 1_048_576,
    });
    expect(spec.switches[0]).toEqual({
      name: 'leaf01',
      forwarding: { minNs: 500, maxNs: 2000 },
      portBufferBytes: 1_048_576,
    });
    const [hostLink, , fabricLink] = spec.links;
    expect(hostLink).toEqual({
      a: 'h01-01',
      b: 'leaf01',
      rateBps: 10e9,
      propagationNs: 500,
      expressShare: 0.2,
    });
    expect(fabricLink).toEqual({
      a: 'leaf01',
      b: 'spine01',
      rateBps: 40e9,
      propagationNs: 1000,
      expressShare: 0.2,
    });
    expect(d.hostRateBps).toBe(10e9);
    expect(spec.maxFrameBytes).toBe(1538);
  });

  it('honours rates, share and name', () => {
    const spec = generateLeafSpine({
      leaves: 2,
      hostsPerLeaf: 2,
      spines: 1,
      hostRateBps: 25e9,
      fabricRateBps: 100e9,
      expressShare: 0.3,
      name: 'lab',
    });
    expect(spec.name).toBe('lab');
    expect(spec.hosts.every((h) => h.nicRateBps === 25e9)).toBe(true);
    expect(spec.links.filter((l) => l.b === 'spine01').every((l) => l.rateBps === 100e9)).toBe(true);
    expect(spec.links.every((l) => l.expressShare === 0.3)).toBe(true);
  });

  it('pads names to the width of the counts, so they sort naturally', () => {
    const spec = generateLeafSpine({ leaves: 160, hostsPerLeaf: 64, spines: 16 });
    expect(spec.hosts).toHaveLength(10_240);
    expect(spec.switches).toHaveLength(176);
    expect(spec.links).toHaveLength(10_240 + 160 * 16);
    expect(spec.hosts[0]?.name).toBe('h001-01');
    expect(spec.hosts.at(-1)?.name).toBe('h160-64');
    expect(spec.switches[0]?.name).toBe('leaf001');
    expect(spec.switches.at(-1)?.name).toBe('spine16');
    const names = spec.hosts.map((h) => h.name);
    expect([...names].sort()).toEqual(names);
    expect(new Set(names).size).toBe(names.length);
    // The big fabric is a valid topology too (through the JSON path, which skips YAML parsing).
    expect(validateTopologySpec(topologyToDocument(spec))).toEqual(spec);
  });

  it('is deterministic and its YAML parses back', () => {
    const opts = { leaves: 4, hostsPerLeaf: 4, spines: 2 };
    expect(generateLeafSpine(opts)).toEqual(generateLeafSpine(opts));
    const yaml = topologyToYaml(generateLeafSpine(opts));
    expect(topologyToYaml(generateLeafSpine(opts))).toBe(yaml);
    expect(parseTopology(yaml)).toEqual(generateLeafSpine(opts));
  });

  it('allows a single leaf without spines', () => {
    const spec = generateLeafSpine({ leaves: 1, hostsPerLeaf: 3, spines: 0 });
    expect(spec.switches.map((s) => s.name)).toEqual(['leaf01']);
    expect(spec.links).toHaveLength(3);
  });

  it.each([
    [{ leaves: 0, hostsPerLeaf: 1, spines: 1 }, 'leaves must be a whole number >= 1'],
    [{ leaves: 2, hostsPerLeaf: 1.5, spines: 1 }, 'hostsPerLeaf must be a whole number >= 1'],
    [{ leaves: 2, hostsPerLeaf: 1, spines: 0 }, 'spines must be a whole number >= 1'],
    [{ leaves: 1, hostsPerLeaf: 1, spines: 0, hostRateBps: 0 }, 'hostRateBps must be a positive number'],
    [{ leaves: 1, hostsPerLeaf: 1, spines: 0, expressShare: 1.2 }, 'expressShare must be in (0, 1]'],
  ])('refuses %j', (opts, message) => {
    const err = thrown(() => generateLeafSpine(opts));
    expect(err.code).toBe('XL_ERR_VALIDATION');
    expect(err.message).toContain(message);
  });
});
