// Synthetic data-center fabrics for benchmarks and tests: a two-tier leaf-spine (Clos) network.
// Output is deterministic and names sort naturally (zero padded), so generated files diff cleanly.
import { XlaneError } from '../errors.js';
import { DEFAULT_EXPRESS_DSCP, DEFAULT_EXPRESS_PORT, DEFAULT_MTU } from './normalise.js';
import {
  ETHERNET_WIRE_OVERHEAD,
  type HostSpec,
  type LinkSpec,
  type SwitchSpec,
  type TopologySpec,
} from './spec.js';

export interface LeafSpineOptions {
  leaves: number;
  hostsPerLeaf: number;
  spines: number;
  /** Host NIC and host–leaf link rate, bit/s (default 10 Gbit/s). */
  hostRateBps?: number;
  /** Leaf–spine link rate, bit/s (default 40 Gbit/s). */
  fabricRateBps?: number;
  /** Express share of every link (default 0.2). */
  expressShare?: number;
  name?: string;
}

export const LEAF_SPINE_DEFAULTS = {
  hostRateBps: 10e9,
  fabricRateBps: 40e9,
  expressShare: 0.2,
  hostPropagationNs: 500,
  fabricPropagationNs: 1000,
  hostLatency: { minNs: 2000, maxNs: 20000 },
  forwarding: { minNs: 500, maxNs: 2000 },
  portBufferBytes: 1024 * 1024,
  hostBufferBytes: 1024 * 1024,
} as const;

function requireCount(value: number, what: string, min: number, why = ''): void {
  if (!Number.isInteger(value) || value < min) {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `${what} must be a whole number >= ${min}${why}, got ${value}`,
      {
        field: what,
        value,
      },
    );
  }
}

function requirePositive(value: number, what: string): void {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new XlaneError('XL_ERR_VALIDATION', `${what} must be a positive number, got ${value}`, {
      field: what,
      value,
    });
  }
}

/** Zero-pad to the width of the largest index, at least two digits ("leaf01", "h01-07"). */
function padder(count: number): (i: number) => string {
  const width = Math.max(2, String(count).length);
  return (i) => String(i).padStart(width, '0');
}

/**
 * Leaves `leaf01..`, spines `spine01..`, hosts `h<leaf>-<n>`. Every host is cabled to its leaf and
 * every leaf to every spine. Hosts come in leaf order, switches leaves first, links host links
 * first (in host order) then fabric links (leaf-major).
 */
export function generateLeafSpine(opts: LeafSpineOptions): TopologySpec {
  const d = LEAF_SPINE_DEFAULTS;
  const hostRateBps = opts.hostRateBps ?? d.hostRateBps;
  const fabricRateBps = opts.fabricRateBps ?? d.fabricRateBps;
  const expressShare = opts.expressShare ?? d.expressShare;
  requireCount(opts.leaves, 'leaves', 1);
  requireCount(opts.hostsPerLeaf, 'hostsPerLeaf', 1);
  // Without a spine, hosts on different leaves could not reach each other.
  requireCount(
    opts.spines,
    'spines',
    opts.leaves > 1 ? 1 : 0,
    opts.leaves > 1 ? ' (leaves reach each other only through spines)' : '',
  );
  requirePositive(hostRateBps, 'hostRateBps');
  requirePositive(fabricRateBps, 'fabricRateBps');
  if (!(expressShare > 0 && expressShare <= 1)) {
    throw new XlaneError('XL_ERR_VALIDATION', `expressShare must be in (0, 1], got ${expressShare}`, {
      field: 'expressShare',
      value: expressShare,
    });
  }

  const leafId = padder(opts.leaves);
  const hostId = padder(opts.hostsPerLeaf);
  const spineId = padder(opts.spines);
  const leafNames = Array.from({ length: opts.leaves }, (_, i) => `leaf${leafId(i + 1)}`);
  const spineNames = Array.from({ length: opts.spines }, (_, i) => `spine${spineId(i + 1)}`);

  const hosts: HostSpec[] = [];
  const links: LinkSpec[] = [];
  for (let l = 0; l < opts.leaves; l++) {
    for (let h = 0; h < opts.hostsPerLeaf; h++) {
      const name = `h${leafId(l + 1)}-${hostId(h + 1)}`;
      hosts.push({
        name,
        nicRateBps: hostRateBps,
        send: { ...d.hostLatency },
        recv: { ...d.hostLatency },
        bufferBytes: d.hostBufferBytes,
      });
      links.push({
        a: name,
        b: leafNames[l]!,
        rateBps: hostRateBps,
        propagationNs: d.hostPropagationNs,
        expressShare,
      });
    }
  }
  for (const leaf of leafNames) {
    for (const spine of spineNames) {
      links.push({
        a: leaf,
        b: spine,
        rateBps: fabricRateBps,
        propagationNs: d.fabricPropagationNs,
        expressShare,
      });
    }
  }
  const switches: SwitchSpec[] = [...leafNames, ...spineNames].map((name) => ({
    name,
    forwarding: { ...d.forwarding },
    portBufferBytes: d.portBufferBytes,
  }));

  return {
    name: opts.name ?? `leaf-spine-${opts.leaves}x${opts.hostsPerLeaf}-${opts.spines}`,
    mtuBytes: DEFAULT_MTU,
    maxFrameBytes: DEFAULT_MTU + ETHERNET_WIRE_OVERHEAD,
    expressDscp: DEFAULT_EXPRESS_DSCP,
    expressPort: DEFAULT_EXPRESS_PORT,
    hosts,
    switches,
    links,
  };
}
