import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTopologyFile, parseTopology } from '../../src/topology/load.js';
import { BASE, edit, entries, thrown } from './helpers.js';

const EXAMPLES = join(import.meta.dirname, '../../examples');

describe('examples', () => {
  it('testbed-3.yaml is the three-host, one-switch testbed', () => {
    const spec = loadTopologyFile(join(EXAMPLES, 'testbed-3.yaml'));
    expect(spec.name).toBe('testbed-3');
    expect(spec.mtuBytes).toBe(1500);
    expect(spec.maxFrameBytes).toBe(1538);
    expect(spec.expressDscp).toBe(46);
    expect(spec.expressPort).toBe(7400);
    expect(spec.hosts.map((h) => h.name)).toEqual(['h1', 'h2', 'h3']);
    for (const h of spec.hosts) {
      expect(h).toEqual({
        name: h.name,
        nicRateBps: 1e9,
        send: { minNs: 5000, maxNs: 50_000 },
        recv: { minNs: 5000, maxNs: 50_000 },
        bufferBytes: 1024 * 1024,
        releaseJitterNs: 20_000,
      });
    }
    expect(spec.switches).toEqual([
      { name: 's1', forwarding: { minNs: 0, maxNs: 20_000 }, portBufferBytes: 262_144 },
    ]);
    expect(spec.links).toEqual(
      ['h1', 'h2', 'h3'].map((a) => ({
        a,
        b: 's1',
        rateBps: 1e9,
        propagationNs: 100,
        expressShare: 0.2,
        // Shaped veths: a lone frame is not held for its transmission time.
        serializes: false,
      })),
    );
  });

  it('leaf-spine-small.yaml is a 4 × 4 fabric with 2 spines', () => {
    const spec = loadTopologyFile(join(EXAMPLES, 'leaf-spine-small.yaml'));
    expect(spec.hosts).toHaveLength(16);
    expect(spec.switches.map((s) => s.name)).toEqual([
      'leaf01',
      'leaf02',
      'leaf03',
      'leaf04',
      'spine01',
      'spine02',
    ]);
    expect(spec.links).toHaveLength(16 + 8);
    const fabric = spec.links.filter((l) => l.b.startsWith('spine'));
    expect(fabric.every((l) => l.rateBps === 40e9 && l.propagationNs === 1000)).toBe(true);
  });
});

describe('parseTopology', () => {
  it('applies defaults, node overrides, and built-in defaults', () => {
    const text = edit(
      '  - name: h2\n',
      '  - { name: h2, nicRate: 10Gbit, recvLatency: { min: 1us, max: 2us } }\n',
    );
    const spec = parseTopology(edit('name: t\n', 'name: t\nexpressShare: 0.25\nmtu: 9000\n', text));
    expect(spec.mtuBytes).toBe(9000);
    expect(spec.maxFrameBytes).toBe(9038);
    expect(spec.expressDscp).toBe(46);
    expect(spec.expressPort).toBe(7400);
    expect(spec.hosts[0]).toEqual({
      name: 'h1',
      nicRateBps: 1e9,
      send: { minNs: 5000, maxNs: 50_000 },
      recv: { minNs: 5000, maxNs: 5000 },
      bufferBytes: 1_048_576,
    });
    expect(spec.hosts[1]?.nicRateBps).toBe(10e9);
    expect(spec.hosts[1]?.recv).toEqual({ minNs: 1000, maxNs: 2000 });
    expect(spec.switches[0]?.forwarding).toEqual({ minNs: 10_000, maxNs: 10_000 });
    expect(spec.links.every((l) => l.expressShare === 0.25)).toBe(true);
  });

  it('reads the optional release jitter from a host or the host defaults, absent when not declared', () => {
    const none = parseTopology(BASE);
    expect(none.hosts.every((h) => h.releaseJitterNs === undefined)).toBe(true);
    const text = edit('buffer: 1MiB }', 'buffer: 1MiB, releaseJitter: 20us }');
    const spec = parseTopology(edit('  - name: h2\n', '  - name: h2\n    releaseJitter: 5us\n', text));
    expect(spec.hosts.map((h) => h.releaseJitterNs)).toEqual([20_000, 5_000, 20_000]);
    const bad = thrown(() =>
      parseTopology(edit('  - name: h2\n', '  - name: h2\n    releaseJitter: fast\n'), 'topo.yaml'),
    );
    expect(bad.code).toBe('XL_ERR_VALIDATION');
    expect(bad.message).toContain('topo.yaml:9:20: hosts[1].releaseJitter: invalid duration "fast"');
  });

  it('accepts a per-link express share and a larger max frame', () => {
    const text = edit('  - { a: h1, b: s1 }', '  - { a: h1, b: s1, expressShare: 0.1 }');
    const spec = parseTopology(edit('name: t\n', 'name: t\nmaxFrame: 1542B\n', text));
    expect(spec.maxFrameBytes).toBe(1542);
    expect(spec.links.map((l) => l.expressShare)).toEqual([0.1, 0.5, 0.5]);
  });
});

describe('errors name the file, line, column and path', () => {
  it('unknown node in a link', () => {
    const err = thrown(() => parseTopology(edit('{ a: h3, b: s1 }', '{ a: h3, b: s9 }'), 'topo.yaml'));
    expect(err.code).toBe('XL_ERR_TOPOLOGY');
    expect(entries(err)).toEqual([
      {
        line: 15,
        col: 17,
        path: 'links[2].b',
        message: 'unknown node "s9" (known: h1, h2, h3, s1)',
        code: 'XL_ERR_TOPOLOGY',
      },
    ]);
    expect(err.message.split('\n')).toEqual([
      'topo.yaml: inconsistent topology (1 error)',
      'topo.yaml:15:17: links[2].b: unknown node "s9" (known: h1, h2, h3, s1)',
    ]);
    expect(err.details?.file).toBe('topo.yaml');
  });

  it('duplicate node name across hosts and switches', () => {
    const err = thrown(() =>
      parseTopology(edit('  - name: s1\n', '  - name: s1\n  - name: h2\n'), 'topo.yaml'),
    );
    expect(err.code).toBe('XL_ERR_TOPOLOGY');
    expect(entries(err)).toEqual([
      {
        line: 12,
        col: 11,
        path: 'switches[1].name',
        message: 'duplicate node name "h2" (already used by hosts[1])',
        code: 'XL_ERR_TOPOLOGY',
      },
    ]);
  });

  it('a typo in a key, with a suggestion and no follow-on "missing" error', () => {
    const text = edit('  - name: s1\n', '  - name: s1\n    portbuffer: 1MiB\n');
    const err = thrown(() =>
      parseTopology(edit('  switch: { forwardingLatency: 10us, portBuffer: 256KiB }\n', '', text)),
    );
    expect(err.code).toBe('XL_ERR_VALIDATION');
    expect(entries(err)).toEqual(
      [
        {
          line: 11,
          col: 5,
          path: 'switches[0].portbuffer',
          message: 'unknown key "portbuffer" (did you mean "portBuffer"?)',
          code: 'XL_ERR_VALIDATION',
        },
        // forwardingLatency has no typo to blame: that one is really missing.
        {
          line: 10,
          col: 5,
          path: 'switches[0].forwardingLatency',
          message: 'required key is missing (set it here or in defaults.switch.forwardingLatency)',
          code: 'XL_ERR_VALIDATION',
        },
      ].sort((x, y) => x.line - y.line),
    );
  });

  it('a bad unit', () => {
    const err = thrown(() => parseTopology(edit('rate: 1Gbit', 'rate: 1Gbx')));
    expect(err.code).toBe('XL_ERR_VALIDATION');
    const [e] = entries(err);
    expect(e).toMatchObject({ line: 5, col: 17, path: 'defaults.link.rate', code: 'XL_ERR_VALIDATION' });
    expect(e?.message).toContain('invalid rate "1Gbx": unknown unit "Gbx"');
    expect(entries(err)).toHaveLength(1);
  });

  it('latency min greater than max', () => {
    const err = thrown(() => parseTopology(edit('{ min: 5us, max: 50us }', '{ min: 50us, max: 5us }')));
    expect(err.code).toBe('XL_ERR_VALIDATION');
    expect(entries(err)).toEqual([
      {
        line: 3,
        col: 40,
        path: 'defaults.host.sendLatency',
        message: 'min (50us) is greater than max (5us)',
        code: 'XL_ERR_VALIDATION',
      },
    ]);
  });

  it('express share outside [0.001, 1]', () => {
    const err = thrown(() =>
      parseTopology(edit('  - { a: h1, b: s1 }', '  - { a: h1, b: s1, expressShare: 1.5 }')),
    );
    expect(err.code).toBe('XL_ERR_VALIDATION');
    expect(entries(err)).toEqual([
      {
        line: 13,
        col: 35,
        path: 'links[0].expressShare',
        message: 'must be in [0.001, 1], got 1.5',
        code: 'XL_ERR_VALIDATION',
      },
    ]);
  });

  it('values no fabric has, which would make bounds of Infinity ns, each with its position', () => {
    const text = edit(
      '  link: { rate: 1Gbit, propagation: 100ns }',
      '  link: { rate: 1e-300bit, propagation: 1e308ns }',
      edit('buffer: 1MiB }', 'buffer: 1e300B }'),
    );
    const err = thrown(() =>
      parseTopology(edit('  - { a: h1, b: s1 }', '  - { a: h1, b: s1, expressShare: 1e-9 }', text)),
    );
    expect(err.code).toBe('XL_ERR_VALIDATION');
    expect(entries(err).map((e) => [e.line, e.col, e.path, e.message])).toEqual([
      [3, 91, 'defaults.host.buffer', 'must be between 1B and 1GiB, got 1e300B'],
      [5, 17, 'defaults.link.rate', 'must be between 1Kbit and 10Tbit, got 1e-300bit'],
      [5, 41, 'defaults.link.propagation', 'must be between 0ns and 1s, got 1e308ns'],
      [13, 35, 'links[0].expressShare', 'must be in [0.001, 1], got 1e-9'],
    ]);
  });

  it('a non-finite number is one error, a flag takes true or false, and a long string is not echoed whole', () => {
    const text = edit(
      '  link: { rate: 1Gbit, propagation: 100ns }',
      '  link: { rate: .inf, propagation: 100ns }',
      edit('name: t\n', `name: t\nmtu: "${'x'.repeat(5000)}"\n`),
    );
    const err = thrown(() =>
      parseTopology(edit('  - { a: h1, b: s1 }', '  - { a: h1, b: s1, serializes: "no" }', text)),
    );
    const list = entries(err).map((e) => `${e.path}: ${e.message}`);
    expect(list.filter((m) => m.startsWith('defaults.link.rate'))).toEqual([
      'defaults.link.rate: expected a rate: a number in bit/s or a string such as "10Gbit", got Infinity',
    ]);
    expect(list).toContain('links[0].serializes: expected true or false, got "no"');
    const long = list.find((m) => m.startsWith('mtu: '));
    expect(long).toMatch(/^mtu: expected a number, got "x{60}"… \(5000 characters\)$/);
  });

  it('YAML syntax error', () => {
    const err = thrown(() => parseTopology(edit('  - { a: h2, b: s1 }', '  - { a: h2, b: s1'), 'topo.yaml'));
    expect(err.code).toBe('XL_ERR_BAD_YAML');
    const list = entries(err);
    expect(list.length).toBeGreaterThan(0);
    expect(list[0]).toMatchObject({ line: 15, col: 3, path: '', code: 'XL_ERR_BAD_YAML' });
    expect(err.message.split('\n')[1]).toMatch(/^topo\.yaml:15:3: /);
  });

  it('missing hosts: one error, not a cascade of unknown link endpoints', () => {
    const text = edit('hosts:\n  - name: h1\n  - name: h2\n  - name: h3\n', '');
    const err = thrown(() => parseTopology(text, 'topo.yaml'));
    expect(err.code).toBe('XL_ERR_VALIDATION');
    expect(entries(err)).toEqual([
      { line: 1, col: 1, path: 'hosts', message: 'required key is missing', code: 'XL_ERR_VALIDATION' },
    ]);
  });

  it('an empty host list', () => {
    const text = edit('hosts:\n  - name: h1\n  - name: h2\n  - name: h3\n', 'hosts: []\n');
    const err = thrown(() => parseTopology(text));
    expect(entries(err)[0]).toMatchObject({
      line: 6,
      col: 8,
      path: 'hosts',
      message: 'must list at least 1 entry',
    });
  });

  it('a host without a link', () => {
    const err = thrown(() => parseTopology(edit('  - { a: h3, b: s1 }\n', '')));
    expect(err.code).toBe('XL_ERR_TOPOLOGY');
    expect(entries(err)).toEqual([
      { line: 9, col: 11, path: 'hosts[2].name', message: 'host "h3" has no link', code: 'XL_ERR_TOPOLOGY' },
    ]);
  });

  it('self-loops and duplicate links (either direction)', () => {
    const text = edit(
      '  - { a: h3, b: s1 }\n',
      '  - { a: h3, b: s1 }\n  - { a: s1, b: h1 }\n  - { a: s1, b: s1 }\n',
    );
    const err = thrown(() => parseTopology(text));
    expect(entries(err)).toEqual([
      {
        line: 16,
        col: 5,
        path: 'links[3]',
        message: 'duplicate link between "s1" and "h1" (first at links[0])',
        code: 'XL_ERR_TOPOLOGY',
      },
      {
        line: 17,
        col: 5,
        path: 'links[4]',
        message: 'link connects "s1" to itself',
        code: 'XL_ERR_TOPOLOGY',
      },
    ]);
  });

  it('mtu, max frame, DSCP, port and rates out of range', () => {
    const header = 'name: t\nmtu: 100\nmaxFrame: 100B\nexpressDscp: 64\nexpressPort: 0\n';
    const err = thrown(() => parseTopology(edit('rate: 1Gbit', 'rate: 0', edit('name: t\n', header))));
    expect(err.code).toBe('XL_ERR_VALIDATION');
    expect(entries(err).map((e) => [e.line, e.col, e.path, e.message])).toEqual([
      [2, 6, 'mtu', 'must be a whole number in [576, 9000], got 100'],
      [4, 14, 'expressDscp', 'must be a whole number in [0, 63], got 64'],
      [5, 14, 'expressPort', 'must be a whole number in [1, 65535], got 0'],
      [9, 17, 'defaults.link.rate', 'must be greater than 0, got 0'],
    ]);
  });

  it('a max frame smaller than the MTU allows', () => {
    const err = thrown(() => parseTopology(edit('name: t\n', 'name: t\nmaxFrame: 1500\n')));
    expect(entries(err)).toEqual([
      {
        line: 2,
        col: 11,
        path: 'maxFrame',
        message: 'must be at least mtu + 38 = 1538 bytes, got 1500',
        code: 'XL_ERR_VALIDATION',
      },
    ]);
  });

  it('wrong types and bad node names', () => {
    const text = edit('  - name: h1\n', '  - name: 123\n', edit('  - name: s1\n', '  - name: "s 1"\n'));
    const err = thrown(() => parseTopology(edit('name: t\n', 'name: [t]\n', text)));
    expect(entries(err).map((e) => [e.line, e.col, e.path, e.code])).toEqual([
      [1, 7, 'name', 'XL_ERR_VALIDATION'],
      [7, 11, 'hosts[0].name', 'XL_ERR_VALIDATION'],
      [11, 11, 'switches[0].name', 'XL_ERR_VALIDATION'],
      [13, 10, 'links[0].a', 'XL_ERR_TOPOLOGY'],
      [13, 17, 'links[0].b', 'XL_ERR_TOPOLOGY'],
      [14, 17, 'links[1].b', 'XL_ERR_TOPOLOGY'],
      [15, 17, 'links[2].b', 'XL_ERR_TOPOLOGY'],
    ]);
    const messages = entries(err).map((e) => e.message);
    expect(messages[1]).toBe('expected a string, got 123 (quote it)');
    expect(messages[2]).toContain('invalid node name "s 1"');
  });

  it('collects every error, sorted by position, with one line per error in the message', () => {
    const text = [
      ['name: t\n', 'name: t\nexpressShare: 0\n'],
      ['  - name: h1\n', '  - name: h1\n    nicrate: 1Gbit\n'],
      ['recvLatency: 5us', 'recvLatency: 5ys'],
      ['{ a: h2, b: s1 }', '{ a: h2, b: s2 }'],
      ['  - { a: h3, b: s1 }\n', ''],
    ].reduce((doc, [find, replace]) => edit(find!, replace!, doc), BASE);
    const err = thrown(() => parseTopology(text, 'topo.yaml'));
    expect(err.code).toBe('XL_ERR_VALIDATION');
    const list = entries(err);
    expect(list.map((e) => [e.line, e.path, e.code])).toEqual([
      [2, 'expressShare', 'XL_ERR_VALIDATION'],
      [4, 'defaults.host.recvLatency', 'XL_ERR_VALIDATION'],
      [9, 'hosts[0].nicrate', 'XL_ERR_VALIDATION'],
      [11, 'hosts[2].name', 'XL_ERR_TOPOLOGY'],
      [16, 'links[1].b', 'XL_ERR_TOPOLOGY'],
    ]);
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('topo.yaml: invalid topology (5 errors)');
    expect(lines.slice(1).map((l) => l.split(':').slice(0, 3).join(':'))).toEqual(
      list.map((e) => `topo.yaml:${e.line}:${e.col}`),
    );
  });

  it('empty document and a document that is not a mapping', () => {
    for (const text of ['', '- just\n- a list\n']) {
      const err = thrown(() => parseTopology(text));
      expect(err.code).toBe('XL_ERR_VALIDATION');
      expect(entries(err)).toEqual([
        expect.objectContaining({
          line: 1,
          col: 1,
          path: '',
          message: expect.stringContaining('expected a mapping'),
        }),
      ]);
    }
  });

  it('duplicate YAML keys are a syntax error', () => {
    const err = thrown(() => parseTopology(edit('name: t\n', 'name: t\nname: u\n')));
    expect(err.code).toBe('XL_ERR_BAD_YAML');
    expect(entries(err)[0]).toMatchObject({ line: 2, col: 1 });
  });
});

describe('loadTopologyFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlane-topo-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('labels errors with the file path', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, edit('{ a: h3, b: s1 }', '{ a: h3, b: s9 }'));
    const err = thrown(() => loadTopologyFile(file));
    expect(err.details?.file).toBe(file);
    expect(err.message).toContain(`${file}:15:17: links[2].b: unknown node "s9"`);
  });

  it('reports a missing file as XL_ERR_FILE', () => {
    const err = thrown(() => loadTopologyFile(join(dir, 'nope.yaml')));
    expect(err.code).toBe('XL_ERR_FILE');
    expect(err.message).toContain('no such file');
  });
});
