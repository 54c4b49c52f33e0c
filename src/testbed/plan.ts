// What `xlane testbed up` builds, as data: namespaces, bridges, veth cables, addresses and the HTB
// configuration of every egress port. Pure (no kernel), so the whole shape is unit-tested and the
// applier (apply.ts) only walks it. One namespace per host, one per switch holding bridge br0, one
// veth per link; both ends of every link are egress ports and both are shaped to the link rate.
import { XlaneError } from '../errors.js';
import type { TopologySpec } from '../topology/spec.js';
import { HTB_BURST_NS, htbBurstBytes } from '../util/htb-burst.js';

/** Every testbed namespace is `xtb-<name>-<node>`: a prefix of its own (netns.ts sweeps `xlt-`,
 * which dies with its process; a testbed must outlive the `up` command). */
export const TESTBED_PREFIX = 'xtb';
export const BRIDGE = 'br0';
/** All hosts share one L2 segment; namespaces isolate it, so a fixed private subnet is safe. */
export const SUBNET = '10.77.0';
export const SUBNET_BITS = 24;
const MAX_HOSTS = 250;
/** HTB refuses a zero rate: a best-effort class left with no guaranteed share still needs one. */
const MIN_CLASS_RATE_BPS = 8_000;

export type TestbedMode = 'express' | 'fifo';

export interface PlannedNamespace {
  ns: string;
  node: string;
  kind: 'host' | 'switch' | 'controller';
}

export interface VethEnd {
  node: string;
  ns: string;
  ifname: string;
}

export interface PlannedVeth {
  /** Index of the link in the topology; -1 for the controller's cable. */
  link: number;
  a: VethEnd;
  b: VethEnd;
  /** The end that is a switch port is enslaved to that switch's bridge. */
  bridged: VethEnd[];
}

export interface PlannedAddress {
  host: string;
  ns: string;
  ifname: string;
  address: string;
}

export interface PlannedClass {
  classid: string;
  role: 'express' | 'best-effort' | 'all';
  prio: number;
  rateBps: number;
  ceilBps: number;
  /** Bytes the class may bank at its rate, and at its ceil (src/util/htb-burst.ts says why). */
  burstBytes: number;
  cburstBytes: number;
}

export interface PlannedPort {
  ns: string;
  ifname: string;
  /** Node that owns the port and the node at the other end of the cable. */
  node: string;
  peer: string;
  rateBps: number;
  /** The parent class's burst and cburst (it runs at the port rate). */
  burstBytes: number;
  /** HTB root handle 1:, parent class 1:1 at the port rate, leaf classes below it. */
  classes: PlannedClass[];
  defaultClass: string;
  /** u32 match on the IP TOS byte: express DSCP << 2 under mask 0xfc (ECN bits ignored). */
  expressFilter?: { tos: number; mask: number; flowid: string };
}

export interface TestbedPlan {
  name: string;
  mode: TestbedMode;
  topology: string;
  expressDscp: number;
  expressPort: number;
  /** Link time every HTB class may bank (`--htb-burst`). */
  htbBurstNs: number;
  namespaces: PlannedNamespace[];
  /** Namespaces that get bridge br0. */
  bridges: string[];
  veths: PlannedVeth[];
  addresses: PlannedAddress[];
  ports: PlannedPort[];
  /** With agents: the controller's namespace, cabled (unshaped) to the first switch's bridge. */
  controller?: { ns: string; ifname: string; address: string };
  /** With agents in express mode the agents own the host egress qdisc (their per-lane HTB), so the
   * plan leaves host ports unshaped; in fifo mode agents run without kernel QoS. */
  agents?: { hostQos: boolean };
}

export interface PlanOptions {
  name: string;
  fifo?: boolean;
  /** Plan for `--with-agents`: a controller namespace, and host ports left to the agents. */
  agents?: boolean;
  /** Link time every HTB class may bank (default HTB_BURST_NS). */
  htbBurstNs?: number;
}

/** Not a topology node name (those never contain '+'), so it cannot collide with one. */
export const CONTROLLER_NODE = 'xlane+ctl';
export const CONTROLLER_ADDRESS = `${SUBNET}.254`;

const NAME_RE = /^[A-Za-z0-9_-]{1,24}$/;
const NODE_RE = /^[A-Za-z0-9_.-]{1,40}$/;

export function validateTestbedName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `testbed name ${JSON.stringify(name)} must be 1..24 of [A-Za-z0-9_-]`,
    );
  }
  return name;
}

/** `--htb-burst`: below a microsecond the kernel's burst (whole microseconds at the rate) would be 0. */
export function validateHtbBurst(ns: number): number {
  if (!(Number.isInteger(ns) && ns >= 1_000 && ns <= 100_000_000)) {
    throw new XlaneError('XL_ERR_VALIDATION', `--htb-burst must be 1us..100ms in whole ns (got ${ns} ns)`, {
      htbBurstNs: ns,
    });
  }
  return ns;
}

/** A usable default name from the topology's own name. */
export function defaultTestbedName(spec: TopologySpec): string {
  const n = spec.name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 24);
  return n === '' ? 'testbed' : n;
}

export function namespaceOf(name: string, node: string): string {
  return `${TESTBED_PREFIX}-${name}-${node}`;
}

export function planTestbed(spec: TopologySpec, opts: PlanOptions): TestbedPlan {
  const name = validateTestbedName(opts.name);
  const mode: TestbedMode = opts.fifo ? 'fifo' : 'express';
  const htbBurstNs = validateHtbBurst(opts.htbBurstNs ?? HTB_BURST_NS);
  const problems: string[] = [];
  if (spec.hosts.length < 1 || spec.hosts.length > MAX_HOSTS) {
    problems.push(`a testbed holds 1..${MAX_HOSTS} hosts, the topology has ${spec.hosts.length}`);
  }
  for (const n of [...spec.hosts, ...spec.switches]) {
    if (!NODE_RE.test(n.name))
      problems.push(`node name ${JSON.stringify(n.name)} must be 1..40 of [A-Za-z0-9_.-]`);
  }
  const hostNames = new Set(spec.hosts.map((h) => h.name));
  const switchNames = new Set(spec.switches.map((s) => s.name));
  const hostLinks = new Map<string, number>();
  spec.links.forEach((l, i) => {
    for (const end of [l.a, l.b]) {
      if (!hostNames.has(end) && !switchNames.has(end)) problems.push(`link ${i}: unknown node ${end}`);
      if (hostNames.has(end)) hostLinks.set(end, (hostLinks.get(end) ?? 0) + 1);
    }
    if (hostNames.has(l.a) && hostNames.has(l.b)) {
      problems.push(`link ${i}: ${l.a}–${l.b} joins two hosts; the testbed cables hosts to switches`);
    }
  });
  for (const h of spec.hosts) {
    const n = hostLinks.get(h.name) ?? 0;
    // One address per host on one L2 segment: a second cable would make routing ambiguous.
    if (n !== 1) problems.push(`host ${h.name} has ${n} links; the testbed needs exactly one per host`);
  }
  const loop = switchLoop(spec);
  if (opts.agents && spec.switches.length === 0)
    problems.push('--with-agents needs a switch to cable the controller to');
  if (loop) problems.push(`switch links form a loop through ${loop}; bridges without STP would storm`);
  if (problems.length > 0) {
    throw new XlaneError(
      'XL_ERR_TOPOLOGY',
      `topology ${spec.name} cannot be built as a testbed: ${problems.join('; ')}`,
      {
        errors: problems.map((message) => ({ path: 'links', message })),
      },
    );
  }

  const nsOf = (node: string) => namespaceOf(name, node);
  const namespaces: PlannedNamespace[] = [
    ...spec.hosts.map((h) => ({ ns: nsOf(h.name), node: h.name, kind: 'host' as const })),
    ...spec.switches.map((s) => ({ ns: nsOf(s.name), node: s.name, kind: 'switch' as const })),
  ];
  const nic = new Map(spec.hosts.map((h) => [h.name, h.nicRateBps]));
  const veths: PlannedVeth[] = [];
  const addresses: PlannedAddress[] = [];
  const ports: PlannedPort[] = [];
  spec.links.forEach((l, i) => {
    // Interface names are ≤ 15 bytes: hosts own `eth0`, switches `p<link>`.
    const end = (node: string): VethEnd => ({
      node,
      ns: nsOf(node),
      ifname: hostNames.has(node) ? 'eth0' : `p${i}`,
    });
    const a = end(l.a);
    const b = end(l.b);
    veths.push({ link: i, a, b, bridged: [a, b].filter((e) => switchNames.has(e.node)) });
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      // Agents shape their own host's egress (and must, to police lanes): leave those ports to them.
      if (opts.agents && mode === 'express' && hostNames.has(from.node)) continue;
      const hostNic = nic.get(from.node);
      const rateBps = hostNic === undefined ? l.rateBps : Math.min(hostNic, l.rateBps);
      ports.push(portPlan(from, to.node, rateBps, l.expressShare, spec.expressDscp, mode, htbBurstNs));
    }
  });
  spec.hosts.forEach((h, i) => {
    addresses.push({ host: h.name, ns: nsOf(h.name), ifname: 'eth0', address: `${SUBNET}.${i + 1}` });
  });
  let controller: TestbedPlan['controller'];
  if (opts.agents) {
    const ns = nsOf(CONTROLLER_NODE);
    const sw = spec.switches[0]!.name;
    namespaces.push({ ns, node: CONTROLLER_NODE, kind: 'controller' });
    const a = { node: CONTROLLER_NODE, ns, ifname: 'eth0' };
    const b = { node: sw, ns: nsOf(sw), ifname: 'pctl' };
    veths.push({ link: -1, a, b, bridged: [b] });
    controller = { ns, ifname: 'eth0', address: CONTROLLER_ADDRESS };
  }
  return {
    name,
    mode,
    topology: spec.name,
    expressDscp: spec.expressDscp,
    expressPort: spec.expressPort,
    htbBurstNs,
    namespaces,
    bridges: spec.switches.map((s) => nsOf(s.name)),
    veths,
    addresses,
    ports,
    ...(controller ? { controller, agents: { hostQos: mode === 'express' } } : {}),
  };
}

function portPlan(
  from: VethEnd,
  peer: string,
  rateBps: number,
  expressShare: number,
  dscp: number,
  mode: TestbedMode,
  burstNs: number,
): PlannedPort {
  const burstBytes = htbBurstBytes(rateBps, burstNs);
  const base = { ns: from.ns, ifname: from.ifname, node: from.node, peer, rateBps, burstBytes };
  const leaf = (classid: string, role: PlannedClass['role'], prio: number, rate: number): PlannedClass => ({
    classid,
    role,
    prio,
    rateBps: rate,
    ceilBps: rateBps,
    burstBytes: htbBurstBytes(rate, burstNs),
    cburstBytes: burstBytes,
  });
  if (mode === 'fifo') {
    return { ...base, classes: [leaf('1:10', 'all', 0, rateBps)], defaultClass: '1:10' };
  }
  const express = Math.max(MIN_CLASS_RATE_BPS, Math.round(rateBps * expressShare));
  const rest = Math.max(MIN_CLASS_RATE_BPS, rateBps - express);
  return {
    ...base,
    classes: [leaf('1:10', 'express', 0, express), leaf('1:20', 'best-effort', 1, rest)],
    defaultClass: '1:20',
    expressFilter: { tos: (dscp << 2) & 0xff, mask: 0xfc, flowid: '1:10' },
  };
}

/** A switch on a cycle of switch–switch links, or undefined (union-find over the switch graph). */
function switchLoop(spec: TopologySpec): string | undefined {
  const switches = new Set(spec.switches.map((s) => s.name));
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  for (const l of spec.links) {
    if (!switches.has(l.a) || !switches.has(l.b)) continue;
    const ra = find(l.a);
    const rb = find(l.b);
    if (ra === rb) return l.a;
    parent.set(ra, rb);
  }
  return undefined;
}

/** `h1=10.77.0.1,h2=10.77.0.2`: the `--peers` argument of `xlane agent`. */
export function peersString(plan: TestbedPlan): string {
  return plan.addresses.map((a) => `${a.host}=${a.address}`).join(',');
}

/** The tc commands (without `-n NS`) that shape one port; `tc` runs them in order. */
export function tcCommandsFor(port: PlannedPort): string[][] {
  const dev = ['dev', port.ifname];
  const cmds: string[][] = [
    ['qdisc', 'add', ...dev, 'root', 'handle', '1:', 'htb', 'default', port.defaultClass.split(':')[1]!],
    [
      'class',
      'add',
      ...dev,
      'parent',
      '1:',
      'classid',
      '1:1',
      'htb',
      'rate',
      bit(port.rateBps),
      'ceil',
      bit(port.rateBps),
      'burst',
      String(port.burstBytes),
      'cburst',
      String(port.burstBytes),
    ],
  ];
  for (const c of port.classes) {
    cmds.push([
      'class',
      'add',
      ...dev,
      'parent',
      '1:1',
      'classid',
      c.classid,
      'htb',
      'rate',
      bit(c.rateBps),
      'ceil',
      bit(c.ceilBps),
      'burst',
      String(c.burstBytes),
      'cburst',
      String(c.cburstBytes),
      'prio',
      String(c.prio),
    ]);
  }
  const f = port.expressFilter;
  if (f) {
    cmds.push([
      'filter',
      'add',
      ...dev,
      'parent',
      '1:',
      'protocol',
      'ip',
      'prio',
      '1',
      'u32',
      'match',
      'ip',
      'tos',
      hex(f.tos),
      hex(f.mask),
      'flowid',
      f.flowid,
    ]);
  }
  return cmds;
}

const bit = (bps: number) => `${bps}bit`;
const hex = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;
