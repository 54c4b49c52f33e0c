// An independent check of an allocation. It shares no code with the allocator's fast path (only the
// wire byte accounting and the spec types): plain objects keyed by names, receiver paths walked one
// by one, and a straightforward Jacobi fixed-point iteration over every port. If the fast path and
// this file ever disagree, one of them has a bug.
import type { TopologySpec } from '../topology/spec.js';
import type { Grant, LaneRequest, PersistedLane } from './types.js';
import { MIN_WIRE_BYTES, wireBytes } from './wire.js';

export interface Violation {
  laneId?: string;
  port?: { from: string; to: string };
  kind: string;
  message: string;
}

interface Node {
  host: boolean;
  sendMin: number;
  sendMax: number;
  releaseJitter: number;
  recvMin: number;
  recvMax: number;
  fwdMin: number;
  fwdMax: number;
}

interface Port {
  from: string;
  to: string;
  rateBps: number;
  shareBps: number;
  bufferBytes: number;
  propagationNs: number;
  /** LinkSpec.serializes: false adds no transmission time to λ_min. */
  serializes: boolean;
}

interface LaneUse {
  laneId: string;
  request: LaneRequest;
  grant: Grant;
  wire: number;
  /** Receiver paths as lists of port keys, with the node names alongside. */
  paths: { host: string; nodes: string[]; keys: string[] }[];
}

const FLOAT_SLACK = 1e-6;
const CAPACITY_SLACK = 1e-9;
const MAX_ROUNDS = 2000;
const CONVERGED_NS = 1e-4;

const key = (from: string, to: string): string => `${from}\u0000${to}`;

function buildNodes(spec: TopologySpec): Map<string, Node> {
  const nodes = new Map<string, Node>();
  for (const h of spec.hosts) {
    nodes.set(h.name, {
      host: true,
      sendMin: h.send.minNs,
      sendMax: h.send.maxNs,
      releaseJitter: h.releaseJitterNs ?? 0,
      recvMin: h.recv.minNs,
      recvMax: h.recv.maxNs,
      fwdMin: 0,
      fwdMax: 0,
    });
  }
  for (const s of spec.switches) {
    nodes.set(s.name, {
      host: false,
      sendMin: 0,
      sendMax: 0,
      releaseJitter: 0,
      recvMin: 0,
      recvMax: 0,
      fwdMin: s.forwarding.minNs,
      fwdMax: s.forwarding.maxNs,
    });
  }
  return nodes;
}

function buildPorts(spec: TopologySpec): Map<string, Port> {
  const hosts = new Map(spec.hosts.map((h) => [h.name, h]));
  const switches = new Map(spec.switches.map((s) => [s.name, s]));
  const ports = new Map<string, Port>();
  for (const link of spec.links) {
    for (const [from, to] of [
      [link.a, link.b],
      [link.b, link.a],
    ]) {
      const host = hosts.get(from!);
      const rateBps = host ? Math.min(host.nicRateBps, link.rateBps) : link.rateBps;
      ports.set(key(from!, to!), {
        from: from!,
        to: to!,
        rateBps,
        shareBps: rateBps * link.expressShare,
        bufferBytes: host ? host.bufferBytes : (switches.get(from!)?.portBufferBytes ?? 0),
        propagationNs: link.propagationNs,
        serializes: link.serializes !== false,
      });
    }
  }
  return ports;
}

/** Structural checks of one lane; returns its usable paths, or undefined if it is malformed. */
function checkLane(
  lane: PersistedLane,
  nodes: Map<string, Node>,
  ports: Map<string, Port>,
  out: Violation[],
): LaneUse | undefined {
  const { laneId, request, grant } = lane;
  const bad = (kind: string, message: string): undefined => {
    out.push({ laneId, kind, message: `lane ${laneId}: ${message}` });
    return undefined;
  };
  if (grant.laneId !== laneId) return bad('grant-mismatch', `grant carries lane id ${grant.laneId}`);
  if (grant.sender !== request.sender)
    return bad('grant-mismatch', 'grant and request name different senders');
  const sigmaMin = request.minPayloadBytes ?? request.maxPayloadBytes;
  const piMax = request.maxPeriodNs ?? request.minPeriodNs;
  if (grant.maxPayloadBytes > request.maxPayloadBytes || grant.maxPayloadBytes < sigmaMin)
    bad(
      'grant-outside-request',
      `σ ${grant.maxPayloadBytes} B outside [${sigmaMin}, ${request.maxPayloadBytes}]`,
    );
  if (grant.minPeriodNs < request.minPeriodNs || grant.minPeriodNs > piMax)
    bad('grant-outside-request', `π ${grant.minPeriodNs} ns outside [${request.minPeriodNs}, ${piMax}]`);
  // Optional (grants of older versions have none); when present an integer in [0, π_min).
  const phase = grant.phaseNs;
  if (phase !== undefined && !(Number.isInteger(phase) && phase >= 0 && phase < grant.minPeriodNs))
    bad('grant-inconsistent', `phaseNs ${String(phase)} not an integer in [0, ${grant.minPeriodNs})`);
  const wire = wireBytes(grant.maxPayloadBytes);
  if (grant.wireBytes !== wire) bad('grant-inconsistent', `wireBytes ${grant.wireBytes} ≠ ${wire}`);
  const sender = nodes.get(request.sender);
  if (!sender?.host) return bad('unknown-host', `sender ${request.sender} is not a host of the topology`);

  const treeKeys = new Set<string>();
  const entered = new Set<string>();
  for (const hop of grant.tree) {
    if (!ports.has(key(hop.from, hop.to)))
      return bad('unknown-hop', `hop ${hop.from}→${hop.to} is not a link`);
    if (entered.has(hop.to)) return bad('bad-path', `${hop.to} is entered twice: not a tree`);
    entered.add(hop.to);
    treeKeys.add(key(hop.from, hop.to));
  }
  const wanted = [...request.receivers].sort();
  const got = grant.receivers.map((r) => r.host).sort();
  if (wanted.join('\u0000') !== got.join('\u0000'))
    return bad('grant-mismatch', 'grant receivers ≠ request receivers');
  const used = new Set<string>();
  const paths: LaneUse['paths'] = [];
  for (const r of grant.receivers) {
    const nodesOnPath = r.path;
    if (
      nodesOnPath[0] !== request.sender ||
      nodesOnPath[nodesOnPath.length - 1] !== r.host ||
      nodesOnPath.length < 2
    )
      return bad('bad-path', `path to ${r.host} does not run from ${request.sender} to ${r.host}`);
    if (!nodes.get(r.host)?.host) return bad('unknown-host', `receiver ${r.host} is not a host`);
    const keys: string[] = [];
    for (let i = 0; i + 1 < nodesOnPath.length; i++) {
      const k = key(nodesOnPath[i]!, nodesOnPath[i + 1]!);
      if (!treeKeys.has(k)) return bad('bad-path', `path to ${r.host} uses a hop outside the tree`);
      if (i > 0 && nodes.get(nodesOnPath[i]!)?.host !== false)
        return bad('bad-path', `path to ${r.host} forwards through ${nodesOnPath[i]}, which is not a switch`);
      keys.push(k);
      used.add(k);
    }
    paths.push({ host: r.host, nodes: nodesOnPath, keys });
  }
  if (used.size !== treeKeys.size) return bad('bad-path', 'the tree has hops no receiver path uses');
  return { laneId, request, grant, wire, paths };
}

/** Jitter a lane has accumulated when it reaches position k of a path (the egress of nodes[k]). */
function jitterAt(
  use: LaneUse,
  path: LaneUse['paths'][number],
  k: number,
  D: Map<string, number>,
  nodes: Map<string, Node>,
  ports: Map<string, Port>,
): number {
  const sender = nodes.get(path.nodes[0]!)!;
  let j = sender.sendMax - sender.sendMin + sender.releaseJitter;
  for (let i = 0; i < k; i++) {
    const port = ports.get(path.keys[i]!)!;
    j += D.get(path.keys[i]!)! - (use.wire * 8e9) / port.rateBps;
    const sw = nodes.get(path.nodes[i + 1]!)!;
    j += sw.fwdMax - sw.fwdMin;
  }
  return j;
}

export function verifyAllocation(spec: TopologySpec, lanes: PersistedLane[]): Violation[] {
  const out: Violation[] = [];
  const nodes = buildNodes(spec);
  const ports = buildPorts(spec);
  const uses: LaneUse[] = [];
  const srcPorts = new Set<string>();
  for (const lane of lanes) {
    const use = checkLane(lane, nodes, ports, out);
    if (!use) continue;
    const sp = `${lane.grant.sender}:${lane.grant.srcPort}`;
    if (srcPorts.has(sp))
      out.push({ laneId: lane.laneId, kind: 'src-port', message: `source port ${sp} is used by two lanes` });
    srcPorts.add(sp);
    uses.push(use);
  }

  // Per port: which lane reaches it at which (path, position): a lane counts once per port.
  const atPort = new Map<string, { use: LaneUse; path: LaneUse['paths'][number]; k: number }[]>();
  for (const use of uses) {
    const seen = new Set<string>();
    for (const path of use.paths) {
      path.keys.forEach((k, i) => {
        if (seen.has(k)) return;
        seen.add(k);
        const list = atPort.get(k) ?? [];
        list.push({ use, path, k: i });
        atPort.set(k, list);
      });
    }
  }

  // Start from zero queueing jitter (every burst = one frame) and iterate until nothing moves.
  const D = new Map<string, number>();
  for (const [k, list] of atPort) {
    const port = ports.get(k)!;
    const sum = list.reduce((acc, e) => acc + e.use.wire, 0);
    D.set(k, ((spec.maxFrameBytes + sum) * 8e9) / port.rateBps);
  }
  let converged = false;
  for (let round = 0; round < MAX_ROUNDS && !converged; round++) {
    const nextD = new Map<string, number>();
    let moved = 0;
    for (const [k, list] of atPort) {
      const port = ports.get(k)!;
      let bursts = 0;
      for (const e of list) {
        const r = e.use.wire / e.use.grant.minPeriodNs;
        bursts += e.use.wire + r * jitterAt(e.use, e.path, e.k, D, nodes, ports);
      }
      const d = ((spec.maxFrameBytes + bursts) * 8e9) / port.rateBps;
      moved = Math.max(moved, Math.abs(d - D.get(k)!));
      nextD.set(k, d);
      if (!(d < 1e12)) {
        out.push({
          port: { from: port.from, to: port.to },
          kind: 'unstable',
          message: `delay at ${port.from}→${port.to} diverges`,
        });
        return out;
      }
    }
    for (const [k, d] of nextD) D.set(k, d);
    converged = moved < CONVERGED_NS;
  }
  if (!converged) {
    const [k] = [...atPort.keys()];
    const port = ports.get(k!)!;
    out.push({
      port: { from: port.from, to: port.to },
      kind: 'unstable',
      message: 'port delays do not converge',
    });
    return out;
  }

  for (const [k, list] of atPort) {
    const port = ports.get(k)!;
    const where = { from: port.from, to: port.to };
    const blockingNs = (spec.maxFrameBytes * 8e9) / port.rateBps;
    let rateBps = 0;
    let backlog = 0;
    for (const e of list) {
      const r = e.use.wire / e.use.grant.minPeriodNs;
      rateBps += r * 8e9;
      backlog += e.use.wire + r * jitterAt(e.use, e.path, e.k, D, nodes, ports) + r * blockingNs;
    }
    if (rateBps > port.shareBps * (1 + CAPACITY_SLACK))
      out.push({
        port: where,
        kind: 'share',
        message: `${port.from}→${port.to}: express ${rateBps} bit/s > share ${port.shareBps} bit/s`,
      });
    if (backlog > port.bufferBytes * (1 + CAPACITY_SLACK))
      out.push({
        port: where,
        kind: 'buffer',
        message: `${port.from}→${port.to}: backlog ${backlog} B > buffer ${port.bufferBytes} B`,
      });
  }

  for (const use of uses) {
    const req = use.request;
    for (const path of use.paths) {
      const sender = nodes.get(path.nodes[0]!)!;
      const receiver = nodes.get(path.host)!;
      let upper = sender.sendMax + receiver.recvMax;
      let lower = sender.sendMin + receiver.recvMin;
      path.keys.forEach((k, i) => {
        const port = ports.get(k)!;
        const next = nodes.get(path.nodes[i + 1]!)!;
        upper += D.get(k)! + port.propagationNs + next.fwdMax;
        lower +=
          (port.serializes ? (MIN_WIRE_BYTES * 8e9) / port.rateBps : 0) + port.propagationNs + next.fwdMin;
      });
      const g = use.grant.receivers.find((r) => r.host === path.host)!;
      const tag = `lane ${use.laneId} → ${path.host}`;
      if (g.lambdaMaxNs < upper * (1 - FLOAT_SLACK))
        out.push({
          laneId: use.laneId,
          kind: 'lambda-max',
          message: `${tag}: granted λ_max ${g.lambdaMaxNs} ns < bound ${upper} ns`,
        });
      if (req.deadlineNs !== undefined && g.lambdaMaxNs > req.deadlineNs)
        out.push({
          laneId: use.laneId,
          kind: 'deadline',
          message: `${tag}: λ_max ${g.lambdaMaxNs} ns > deadline ${req.deadlineNs} ns`,
        });
      if (g.lambdaMinNs > lower * (1 + FLOAT_SLACK))
        out.push({
          laneId: use.laneId,
          kind: 'lambda-min',
          message: `${tag}: granted λ_min ${g.lambdaMinNs} ns > bound ${lower} ns`,
        });
      if (Math.abs(g.jitterNs - (g.lambdaMaxNs - g.lambdaMinNs)) > 1e-6 * Math.max(1, g.lambdaMaxNs))
        out.push({
          laneId: use.laneId,
          kind: 'grant-inconsistent',
          message: `${tag}: jitter ≠ λ_max − λ_min`,
        });
    }
  }
  return out;
}
