import { describe, expect, it } from 'vitest';
import { chooseCore, chooseLaneCore, resolveCore } from '../../src/tune/core-choice.js';
import { fixture } from './helpers.js';

describe('lane core choice', () => {
  it('one node, nothing isolated: the last CPU of the node, never CPU 0', () => {
    const c = chooseLaneCore(fixture('vm-1node').fs);
    expect(c).toMatchObject({ core: 1, node: 0, nic: 'eth0', nicNode: 0 });
    expect(c.reason).toBe('CPU 1: last CPU of the NIC eth0 on node 0 other than CPU 0 (no CPU is isolated)');
  });

  it('two nodes: the first isolated CPU on the NIC node (6), not the isolated CPU 3 of node 0', () => {
    const c = chooseLaneCore(fixture('numa2-isolated').fs);
    expect(c).toMatchObject({ core: 6, node: 1, nicNode: 1 });
    expect(c.reason).toContain('isolated');
  });

  it('misconfigured: last CPU of the single node', () => {
    expect(chooseLaneCore(fixture('misconfigured').fs).core).toBe(3);
  });

  it('isolated CPUs only on another node: a non-isolated CPU on the NIC node wins', () => {
    const nodes = [
      { id: 0, cpus: [0, 1, 2, 3] },
      { id: 1, cpus: [4, 5, 6, 7] },
    ];
    const c = chooseCore({
      onlineCpus: [0, 1, 2, 3, 4, 5, 6, 7],
      isolated: [2, 3],
      nodes,
      nic: 'x',
      nicNode: 1,
    });
    expect(c.core).toBe(7);
    expect(c.reason).toContain('no isolated CPU on it');
  });

  it('NIC node unknown on a 2-node machine: the last online CPU', () => {
    const nodes = [
      { id: 0, cpus: [0, 1] },
      { id: 1, cpus: [2, 3] },
    ];
    expect(
      chooseCore({ onlineCpus: [0, 1, 2, 3], isolated: [], nodes, nic: undefined, nicNode: -1 }).core,
    ).toBe(3);
  });

  it('a single-CPU machine gets CPU 0', () => {
    expect(
      chooseCore({ onlineCpus: [0], isolated: [], nodes: [{ id: 0, cpus: [0] }], nic: 'e', nicNode: 0 }).core,
    ).toBe(0);
  });

  it('an explicit --core must be online', () => {
    const { fs } = fixture('vm-1node');
    expect(resolveCore(fs, { core: 0 }).core).toBe(0);
    expect(() => resolveCore(fs, { core: 5 })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
  });
});
