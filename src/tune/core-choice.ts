// Which CPU the lane engine runs on. The paper's rule: a dedicated core, close to the NIC (same NUMA
// node, so packet buffers and the interrupt path stay local), never CPU 0 (housekeeping lands there).
import { XlaneError } from '../errors.js';
import { formatCpuList } from './cpu-list.js';
import { defaultRouteNic, readTopology } from './facts.js';
import type { HostFs } from './host-fs.js';
import { readNicNumaNode } from './nic-facts.js';

export interface CoreChoice {
  core: number;
  /** NUMA node of the chosen core (-1 when the machine does not say). */
  node: number;
  nic: string | undefined;
  nicNode: number;
  reason: string;
}

export interface CoreInputs {
  onlineCpus: number[];
  isolated: number[];
  nodes: { id: number; cpus: number[] }[];
  nic: string | undefined;
  nicNode: number;
}

export function nodeOfCpu(nodes: CoreInputs['nodes'], cpu: number): number {
  return nodes.find((n) => n.cpus.includes(cpu))?.id ?? -1;
}

/** Pure: the choice and a one-line explanation. */
export function chooseCore(inp: CoreInputs): CoreChoice {
  const online = [...inp.onlineCpus].sort((a, b) => a - b);
  // A single-node machine puts every device on that node even when sysfs says -1.
  const nicNode = inp.nicNode >= 0 ? inp.nicNode : inp.nodes.length === 1 ? inp.nodes[0]!.id : -1;
  const nodeCpus = nicNode >= 0 ? (inp.nodes.find((n) => n.id === nicNode)?.cpus ?? []) : [];
  const nicText = inp.nic ? `NIC ${inp.nic} on node ${nicNode}` : `node ${nicNode}`;
  const done = (core: number, reason: string): CoreChoice => ({
    core,
    node: nodeOfCpu(inp.nodes, core),
    nic: inp.nic,
    nicNode,
    reason,
  });

  const isolatedLocal = inp.isolated.filter((c) => nodeCpus.includes(c) && online.includes(c));
  if (isolatedLocal.length > 0)
    return done(
      isolatedLocal[0]!,
      `CPU ${isolatedLocal[0]}: isolated (isolated set ${formatCpuList(inp.isolated)}) and on the ${nicText}`,
    );
  const localNotZero = nodeCpus.filter((c) => c !== 0 && online.includes(c));
  if (localNotZero.length > 0) {
    const core = localNotZero[localNotZero.length - 1]!;
    const why = inp.isolated.length > 0 ? 'no isolated CPU on it' : 'no CPU is isolated';
    return done(core, `CPU ${core}: last CPU of the ${nicText} other than CPU 0 (${why})`);
  }
  const last = online[online.length - 1] ?? 0;
  return done(last, `CPU ${last}: last online CPU (NUMA placement of the NIC unknown and no isolated CPU)`);
}

/** The lane core for this host; the agent calls this when no --core is given. */
export function chooseLaneCore(fs: HostFs, opts: { nic?: string } = {}): CoreChoice {
  const topo = readTopology(fs);
  const nic = opts.nic ?? defaultRouteNic(fs);
  return chooseCore({ ...topo, nic, nicNode: nic === undefined ? -1 : readNicNumaNode(fs, nic) });
}

/** An explicit --core, checked against the online set. */
export function explicitCore(fs: HostFs, core: number, opts: { nic?: string } = {}): CoreChoice {
  const topo = readTopology(fs);
  if (!topo.onlineCpus.includes(core))
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `--core ${core} is not an online CPU (online: ${formatCpuList(topo.onlineCpus)})`,
    );
  const nic = opts.nic ?? defaultRouteNic(fs);
  const nicNode = nic === undefined ? -1 : readNicNumaNode(fs, nic);
  return {
    core,
    node: nodeOfCpu(topo.nodes, core),
    nic,
    nicNode: nicNode >= 0 ? nicNode : topo.nodes.length === 1 ? topo.nodes[0]!.id : -1,
    reason: `CPU ${core}: given with --core`,
  };
}

export function resolveCore(fs: HostFs, opts: { core?: number; nic?: string }): CoreChoice {
  return opts.core === undefined ? chooseLaneCore(fs, opts) : explicitCore(fs, opts.core, opts);
}
