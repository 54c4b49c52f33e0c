import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadTopologyFile, validateTopologySpec } from '../../src/topology/load.js';
import { entries, thrown } from './helpers.js';

const EXAMPLE = join(import.meta.dirname, '../../examples/testbed-3.yaml');

const host = (name: string) => ({
  name,
  nicRate: 1e9,
  sendLatency: '5us',
  recvLatency: 5000,
  buffer: '1MiB',
});

describe('validateTopologySpec (JSON bodies)', () => {
  it('accepts the YAML shape as a JSON value and gives the same spec as the file', () => {
    const value = parse(readFileSync(EXAMPLE, 'utf8'));
    expect(validateTopologySpec(value, 'request body')).toEqual(loadTopologyFile(EXAMPLE));
  });

  it('accepts plain numbers in base units', () => {
    const spec = validateTopologySpec({
      name: 'n',
      hosts: [host('a'), host('b')],
      links: [{ a: 'a', b: 'b', rate: 25e9, propagation: 0 }],
    });
    expect(spec.hosts[0]).toEqual({
      name: 'a',
      nicRateBps: 1e9,
      send: { minNs: 5000, maxNs: 5000 },
      recv: { minNs: 5000, maxNs: 5000 },
      bufferBytes: 1_048_576,
    });
    expect(spec.switches).toEqual([]);
    expect(spec.links).toEqual([{ a: 'a', b: 'b', rateBps: 25e9, propagationNs: 0, expressShare: 0.5 }]);
  });

  it('reports every error with its path and no line', () => {
    const err = thrown(() =>
      validateTopologySpec(
        {
          name: 'n',
          hosts: [{ ...host('a'), nicrate: '1Gbit' }, host('b'), { name: 'c', buffer: '1Mb' }],
          links: [
            { a: 'a', b: 'b', rate: '1Gbit', propagation: '1us' },
            { a: 'a', b: 'zz', rate: '1Gbit', propagation: '1us', colour: 'red' },
          ],
        },
        'request body',
      ),
    );
    expect(err.code).toBe('XL_ERR_VALIDATION');
    expect(err.details?.file).toBe('request body');
    const list = entries(err);
    expect(list.map((e) => [e.path, e.code])).toEqual([
      ['hosts[0].nicrate', 'XL_ERR_VALIDATION'],
      ['links[1].colour', 'XL_ERR_VALIDATION'],
      ['hosts[2].nicRate', 'XL_ERR_VALIDATION'],
      ['hosts[2].sendLatency', 'XL_ERR_VALIDATION'],
      ['hosts[2].recvLatency', 'XL_ERR_VALIDATION'],
      ['hosts[2].buffer', 'XL_ERR_VALIDATION'],
      ['links[1].b', 'XL_ERR_TOPOLOGY'],
      ['hosts[2].name', 'XL_ERR_TOPOLOGY'],
    ]);
    expect(list.every((e) => e.line === undefined && e.col === undefined)).toBe(true);
    expect(list[1]?.message).toBe(
      'unknown key "colour" (allowed: a, b, rate, propagation, expressShare, serializes)',
    );
    expect(list[5]?.message).toContain('sizes are in bytes');
    expect(err.message.split('\n')[1]).toBe(
      'request body: hosts[0].nicrate: unknown key "nicrate" (did you mean "nicRate"?)',
    );
  });

  it('explains wrong types', () => {
    const err = thrown(() =>
      validateTopologySpec({ name: 'n', hosts: { a: 1 }, links: [{ a: 'a', b: 'b', rate: true }] }),
    );
    expect(entries(err).map((e) => [e.path, e.message])).toEqual([
      ['hosts', 'expected a list (lines starting with "- "), got a mapping'],
      ['links[0].rate', 'expected a rate: a number in bit/s or a string such as "10Gbit", got true'],
      ['links[0].propagation', 'required key is missing (set it here or in defaults.link.propagation)'],
    ]);
  });

  it('refuses a body that is not an object', () => {
    for (const body of [null, 'name: x', 42, []]) {
      const err = thrown(() => validateTopologySpec(body));
      expect(err.code).toBe('XL_ERR_VALIDATION');
      expect(entries(err)).toEqual([
        expect.objectContaining({ path: '', message: expect.stringContaining('mapping') }),
      ]);
    }
  });
});
