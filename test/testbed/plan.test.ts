// The testbed plan without a kernel: what `up` will build for a topology, port by port.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isXlaneError } from '../../src/errors.js';
import { peersString, planTestbed, type TestbedPlan, tcCommandsFor } from '../../src/testbed/plan.js';
import { generateLeafSpine } from '../../src/topology/generate.js';
import { loadTopologyFile } from '../../src/topology/load.js';
import type { TopologySpec } from '../../src/topology/spec.js';

const TESTBED3 = fileURLToPath(new URL('../../examples/testbed-3.yaml', import.meta.url));
const spec3 = () => loadTopologyFile(TESTBED3);

function expectCode(fn: () => unknown, code: string): string {
  try {
    fn();
  } catch (err) {
    expect(isXlaneError(err) && err.code).toBe(code);
    return (err as Error).message;
  }
  throw new Error(`expected ${code}`);
}

/** Every egress port: (node → peer) for both directions of every link, nothing else. */
function portKeys(plan: TestbedPlan): string[] {
  return plan.ports.map((p) => `${p.node}>${p.peer}`).sort();
}

describe('planTestbed', () => {
  it('builds testbed-3: a namespace per node, a bridge per switch, a veth per link', () => {
    const plan = planTestbed(spec3(), { name: 'tb' });
    expect(plan.namespaces.map((n) => `${n.kind}:${n.ns}`)).toEqual([
      'host:xtb-tb-h1',
      'host:xtb-tb-h2',
      'host:xtb-tb-h3',
      'switch:xtb-tb-s1',
    ]);
    expect(plan.bridges).toEqual(['xtb-tb-s1']);
    expect(plan.veths).toHaveLength(3);
    for (const v of plan.veths) {
      expect(v.a.ifname).toBe('eth0');
      expect(v.b).toEqual({ node: 's1', ns: 'xtb-tb-s1', ifname: `p${v.link}` });
      expect(v.bridged).toEqual([v.b]);
    }
    expect(plan.addresses.map((a) => a.address)).toEqual(['10.77.0.1', '10.77.0.2', '10.77.0.3']);
    expect(peersString(plan)).toBe('h1=10.77.0.1,h2=10.77.0.2,h3=10.77.0.3');
    expect(portKeys(plan)).toEqual(['h1>s1', 'h2>s1', 'h3>s1', 's1>h1', 's1>h2', 's1>h3']);
  });

  it('express mode: prio-0 express class at share × rate and prio-1 best effort with the rest, both ceil at the link rate', () => {
    const spec = spec3();
    const plan = planTestbed(spec, { name: 'tb' });
    for (const p of plan.ports) {
      expect(p.rateBps).toBe(1e9);
      const [ex, be] = p.classes;
      expect(ex).toMatchObject({ role: 'express', prio: 0, rateBps: 0.2e9, ceilBps: 1e9 });
      expect(be).toMatchObject({ role: 'best-effort', prio: 1, rateBps: 0.8e9, ceilBps: 1e9 });
      expect(ex!.rateBps + be!.rateBps).toBe(p.rateBps);
      expect(p.defaultClass).toBe(be!.classid);
      // DSCP 46 (EF) is TOS 0xb8 with the two ECN bits masked off.
      expect(p.expressFilter).toEqual({ tos: 0xb8, mask: 0xfc, flowid: ex!.classid });
      // 200 µs of each class's rate, and of the port rate for the ceil and the parent.
      expect(plan.htbBurstNs).toBe(200_000);
      expect([p.burstBytes, ex!.burstBytes, ex!.cburstBytes, be!.burstBytes, be!.cburstBytes]).toEqual([
        25_000, 5_000, 25_000, 20_000, 25_000,
      ]);
    }
  });

  it('--htb-burst: every class banks that much link time, never less than a full frame', () => {
    const plan = planTestbed(spec3(), { name: 'tb', htbBurstNs: 1_000_000 });
    expect(plan.ports[0]!.classes.map((c) => [c.burstBytes, c.cburstBytes])).toEqual([
      [25_000, 125_000],
      [100_000, 125_000],
    ]);
    const tiny = planTestbed(spec3(), { name: 'tb', htbBurstNs: 1_000 });
    expect(tiny.ports[0]!.classes.map((c) => c.burstBytes)).toEqual([1600, 1600]);
    for (const htbBurstNs of [0, 999, 1500.5, 2e8, Number.NaN]) {
      expectCode(() => planTestbed(spec3(), { name: 'tb', htbBurstNs }), 'XL_ERR_VALIDATION');
    }
  });

  it('--fifo: one class for everything, no filter', () => {
    const plan = planTestbed(spec3(), { name: 'tb', fifo: true });
    expect(plan.mode).toBe('fifo');
    for (const p of plan.ports) {
      expect(p.classes).toEqual([
        {
          classid: '1:10',
          role: 'all',
          prio: 0,
          rateBps: 1e9,
          ceilBps: 1e9,
          burstBytes: 25_000,
          cburstBytes: 25_000,
        },
      ]);
      expect(p.defaultClass).toBe('1:10');
      expect(p.expressFilter).toBeUndefined();
    }
  });

  it('shapes a host port to min(NIC, link) and follows the express DSCP and share of the topology', () => {
    const spec: TopologySpec = { ...spec3(), expressDscp: 34 };
    spec.hosts = spec.hosts.map((h) => (h.name === 'h2' ? { ...h, nicRateBps: 1e8 } : h));
    spec.links = spec.links.map((l) => ({ ...l, expressShare: 0.5 }));
    const plan = planTestbed(spec, { name: 'tb' });
    const h2 = plan.ports.find((p) => p.node === 'h2')!;
    const s1h2 = plan.ports.find((p) => p.node === 's1' && p.peer === 'h2')!;
    expect(h2.rateBps).toBe(1e8);
    expect(h2.classes.map((c) => c.rateBps)).toEqual([5e7, 5e7]);
    expect(s1h2.rateBps).toBe(1e9); // the switch port is not limited by the host's NIC
    expect(h2.expressFilter?.tos).toBe(34 << 2);
  });

  it('a full express share still leaves HTB a positive best-effort rate', () => {
    const spec = spec3();
    spec.links = spec.links.map((l) => ({ ...l, expressShare: 1 }));
    for (const p of planTestbed(spec, { name: 'tb' }).ports) {
      expect(p.classes[0]!.rateBps).toBe(1e9);
      expect(p.classes[1]!.rateBps).toBeGreaterThan(0);
    }
  });

  it('a tree of switches: switch–switch cables are bridged at both ends, every link has two shaped ports', () => {
    const spec = generateLeafSpine({ leaves: 2, hostsPerLeaf: 2, spines: 1 });
    const plan = planTestbed(spec, { name: 'ls' });
    expect(plan.bridges).toHaveLength(3);
    const fabric = plan.veths.filter((v) => v.bridged.length === 2);
    expect(fabric).toHaveLength(2);
    expect(plan.ports).toHaveLength(spec.links.length * 2);
    const fabricPort = plan.ports.find((p) => p.node.startsWith('leaf') && p.peer.startsWith('spine'))!;
    expect(fabricPort.rateBps).toBe(
      spec.links.find((l) => l.b.startsWith('spine') || l.a.startsWith('spine'))!.rateBps,
    );
    // Interface names fit the kernel's 15 bytes.
    for (const v of plan.veths) for (const e of [v.a, v.b]) expect(e.ifname.length).toBeLessThanOrEqual(15);
  });

  it('with agents: a controller namespace on the bridge; host ports left to the agents in express mode only', () => {
    const plan = planTestbed(spec3(), { name: 'tb', agents: true });
    expect(plan.controller).toEqual({ ns: 'xtb-tb-xlane+ctl', ifname: 'eth0', address: '10.77.0.254' });
    expect(plan.namespaces.at(-1)).toEqual({ ns: 'xtb-tb-xlane+ctl', node: 'xlane+ctl', kind: 'controller' });
    const cable = plan.veths.find((v) => v.link === -1)!;
    expect(cable.bridged).toEqual([{ node: 's1', ns: 'xtb-tb-s1', ifname: 'pctl' }]);
    expect(plan.agents).toEqual({ hostQos: true });
    expect(portKeys(plan)).toEqual(['s1>h1', 's1>h2', 's1>h3']);
    // The controller is not a peer of the agents.
    expect(peersString(plan)).not.toContain('254');

    const fifo = planTestbed(spec3(), { name: 'tb', agents: true, fifo: true });
    expect(fifo.agents).toEqual({ hostQos: false });
    expect(fifo.ports).toHaveLength(6);
  });

  it('refuses switch loops (no STP) with XL_ERR_TOPOLOGY', () => {
    const spec = generateLeafSpine({ leaves: 2, hostsPerLeaf: 1, spines: 2 });
    expect(expectCode(() => planTestbed(spec, { name: 'ls' }), 'XL_ERR_TOPOLOGY')).toMatch(/loop/);
  });

  it('refuses a host without exactly one cable', () => {
    const spec = spec3();
    spec.links = spec.links.filter((l) => l.a !== 'h3' && l.b !== 'h3');
    expect(expectCode(() => planTestbed(spec, { name: 'tb' }), 'XL_ERR_TOPOLOGY')).toMatch(
      /host h3 has 0 links/,
    );
  });

  it('refuses names that would escape the prefix or the interface rules', () => {
    for (const name of ['', 'a b', '../x', 'x'.repeat(25)]) {
      expectCode(() => planTestbed(spec3(), { name }), 'XL_ERR_VALIDATION');
    }
  });
});

describe('tcCommandsFor', () => {
  it('express port: HTB root defaulting to best effort, parent at the port rate, a DSCP filter to express', () => {
    const port = planTestbed(spec3(), { name: 'tb' }).ports[0]!;
    expect(tcCommandsFor(port).map((c) => c.join(' '))).toEqual([
      'qdisc add dev eth0 root handle 1: htb default 20',
      'class add dev eth0 parent 1: classid 1:1 htb rate 1000000000bit ceil 1000000000bit burst 25000 cburst 25000',
      'class add dev eth0 parent 1:1 classid 1:10 htb rate 200000000bit ceil 1000000000bit burst 5000 cburst 25000 prio 0',
      'class add dev eth0 parent 1:1 classid 1:20 htb rate 800000000bit ceil 1000000000bit burst 20000 cburst 25000 prio 1',
      'filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip tos 0xb8 0xfc flowid 1:10',
    ]);
  });

  it('fifo port: default to its single class, no filter', () => {
    const port = planTestbed(spec3(), { name: 'tb', fifo: true }).ports[1]!;
    const cmds = tcCommandsFor(port).map((c) => c.join(' '));
    expect(cmds[0]).toBe(`qdisc add dev ${port.ifname} root handle 1: htb default 10`);
    expect(cmds.filter((c) => c.startsWith('filter'))).toEqual([]);
    expect(cmds.filter((c) => c.startsWith('class'))).toHaveLength(2);
  });
});
