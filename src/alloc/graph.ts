// Compiles a TopologySpec into index-based arrays the allocator's hot loops can use without
// string lookups. Nodes are indexed in name order, so "ties by name order" is "ties by index".
// Every full-duplex link becomes two egress ports (one per direction).
import { XlaneError } from '../errors.js';
import type { TopologySpec } from '../topology/spec.js';
import { MIN_WIRE_BYTES } from './wire.js';

export interface CompiledGraph {
  spec: TopologySpec;
  nodeNames: string[];
  nodeIndex: Map<string, number>;
  isHost: Uint8Array;
  /** Host send/recv bounds (0 for switches). */
  sendMin: Float64Array;
  sendMax: Float64Array;
  /** Hosts: E of their engines (HostSpec.releaseJitterNs), 0 elsewhere. */
  releaseJitter: Float64Array;
  recvMin: Float64Array;
  recvMax: Float64Array;
  /** Switch forwarding bounds (0 for hosts). */
  fwdMin: Float64Array;
  fwdMax: Float64Array;
  portFrom: Int32Array;
  portTo: Int32Array;
  portRateBps: Float64Array;
  /** Nanoseconds one byte occupies on this port (8e9 / C). */
  nsPerByte: Float64Array;
  /** Blocking by one best-effort frame, T = maxFrameBytes·8/C (ns). */
  blockingNs: Float64Array;
  /** Express share of the port in bytes per ns (share·C/8e9): the unit lane rates use. */
  shareBytesPerNs: Float64Array;
  shareBps: Float64Array;
  bufferBytes: Float64Array;
  /** Jitter a frame picks up at the port's upstream node before queueing here: the sender's send
   * jitter for a host port, the switch's forwarding jitter for a switch port. */
  entryJitterNs: Float64Array;
  /** Fixed per-hop terms of λ_max / λ_min: propagation plus forwarding of the next node if a switch. */
  staticMaxNs: Float64Array;
  staticMinNs: Float64Array;
  /** Out ports per node, sorted by the neighbour's index. */
  outPorts: number[][];
  /** port index for (from, to), key from * nodeCount + to. */
  portByPair: Map<number, number>;
  /** Switch neighbours of each host, by index (its attachment switches). */
  attachments: number[][];
  maxFrameBytes: number;
}

function topologyError(message: string, path: string): XlaneError {
  return new XlaneError('XL_ERR_TOPOLOGY', message, { errors: [{ path, message }] });
}

export function compileGraph(spec: TopologySpec): CompiledGraph {
  const entries: { name: string; host: boolean; i: number }[] = [];
  spec.hosts.forEach((h, i) => {
    entries.push({ name: h.name, host: true, i });
  });
  spec.switches.forEach((s, i) => {
    entries.push({ name: s.name, host: false, i });
  });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const n = entries.length;
  const nodeNames = entries.map((e) => e.name);
  const nodeIndex = new Map<string, number>();
  const isHost = new Uint8Array(n);
  const sendMin = new Float64Array(n);
  const sendMax = new Float64Array(n);
  const releaseJitter = new Float64Array(n);
  const recvMin = new Float64Array(n);
  const recvMax = new Float64Array(n);
  const fwdMin = new Float64Array(n);
  const fwdMax = new Float64Array(n);
  const nodeBuffer = new Float64Array(n);
  const nicRate = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  entries.forEach((e, idx) => {
    if (nodeIndex.has(e.name)) throw topologyError(`duplicate node name "${e.name}"`, 'hosts/switches');
    nodeIndex.set(e.name, idx);
    if (e.host) {
      const h = spec.hosts[e.i]!;
      isHost[idx] = 1;
      sendMin[idx] = h.send.minNs;
      sendMax[idx] = h.send.maxNs;
      releaseJitter[idx] = h.releaseJitterNs ?? 0;
      recvMin[idx] = h.recv.minNs;
      recvMax[idx] = h.recv.maxNs;
      nodeBuffer[idx] = h.bufferBytes;
      nicRate[idx] = h.nicRateBps;
    } else {
      const s = spec.switches[e.i]!;
      fwdMin[idx] = s.forwarding.minNs;
      fwdMax[idx] = s.forwarding.maxNs;
      nodeBuffer[idx] = s.portBufferBytes;
    }
  });

  const portCount = spec.links.length * 2;
  const g: CompiledGraph = {
    spec,
    nodeNames,
    nodeIndex,
    isHost,
    sendMin,
    sendMax,
    releaseJitter,
    recvMin,
    recvMax,
    fwdMin,
    fwdMax,
    portFrom: new Int32Array(portCount),
    portTo: new Int32Array(portCount),
    portRateBps: new Float64Array(portCount),
    nsPerByte: new Float64Array(portCount),
    blockingNs: new Float64Array(portCount),
    shareBytesPerNs: new Float64Array(portCount),
    shareBps: new Float64Array(portCount),
    bufferBytes: new Float64Array(portCount),
    entryJitterNs: new Float64Array(portCount),
    staticMaxNs: new Float64Array(portCount),
    staticMinNs: new Float64Array(portCount),
    outPorts: Array.from({ length: n }, () => []),
    portByPair: new Map(),
    attachments: Array.from({ length: n }, () => []),
    maxFrameBytes: spec.maxFrameBytes,
  };

  let p = 0;
  spec.links.forEach((link, li) => {
    const a = nodeIndex.get(link.a);
    const b = nodeIndex.get(link.b);
    if (a === undefined || b === undefined) {
      const missing = a === undefined ? link.a : link.b;
      throw topologyError(`link ${link.a}–${link.b} names unknown node "${missing}"`, `links/${li}`);
    }
    if (a === b) throw topologyError(`link ${link.a}–${link.b} connects a node to itself`, `links/${li}`);
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const key = from * n + to;
      // A hop is named by its two endpoints, so two links between the same pair could not be told apart.
      if (g.portByPair.has(key))
        throw topologyError(`more than one link between ${link.a} and ${link.b}`, `links/${li}`);
      const rate = isHost[from] ? Math.min(nicRate[from]!, link.rateBps) : link.rateBps;
      g.portFrom[p] = from;
      g.portTo[p] = to;
      g.portRateBps[p] = rate;
      g.nsPerByte[p] = 8e9 / rate;
      g.blockingNs[p] = (spec.maxFrameBytes * 8e9) / rate;
      g.shareBps[p] = link.expressShare * rate;
      g.shareBytesPerNs[p] = (link.expressShare * rate) / 8e9;
      g.bufferBytes[p] = nodeBuffer[from]!;
      // At a host's own port a lane's frames are spread by its stack (send max − min) and by how late
      // the engine may release them on their grid (E, engine/schedule.ts).
      g.entryJitterNs[p] = isHost[from]
        ? sendMax[from]! - sendMin[from]! + releaseJitter[from]!
        : fwdMax[from]! - fwdMin[from]!;
      g.staticMaxNs[p] = link.propagationNs + (isHost[to] ? 0 : fwdMax[to]!);
      // A link that does not serialize a lone frame (a shaped veth) adds no transmission time.
      const transmitMin = link.serializes === false ? 0 : MIN_WIRE_BYTES * g.nsPerByte[p]!;
      g.staticMinNs[p] = transmitMin + link.propagationNs + (isHost[to] ? 0 : fwdMin[to]!);
      g.portByPair.set(key, p);
      g.outPorts[from]!.push(p);
      if (isHost[from] && !isHost[to]) g.attachments[from]!.push(to);
      p++;
    }
  });
  for (const list of g.outPorts) list.sort((x, y) => g.portTo[x]! - g.portTo[y]!);
  for (const list of g.attachments) list.sort((x, y) => x - y);
  return g;
}

export function portOf(g: CompiledGraph, from: number, to: number): number | undefined {
  return g.portByPair.get(from * g.nodeNames.length + to);
}

export function portLabel(g: CompiledGraph, p: number): { from: string; to: string } {
  return { from: g.nodeNames[g.portFrom[p]!]!, to: g.nodeNames[g.portTo[p]!]! };
}
