// The express DSCP written into a host's lane frames by the kernel, for engines that cannot set
// IP_TOS on their sockets (the js engine: Node's dgram has no setsockopt). Without the mark, the
// switches — which classify on DSCP — carry the lane's frames as best effort and its bound is void;
// the host's own egress class alone (the tc port filters) is not enough.
//
// Why nftables and not tc: tc's pedit + csum actions would do it in the egress qdisc, but kernels
// are often built without them (this project's VM is); nf_tables and its payload mangling (which
// fixes the IPv4 header checksum itself) are in every distribution kernel.
//
// The desired state is one table, `ip xlane`, with one rule in an output-hook chain:
//   udp sport { <the host's lane source ports> } ip dscp set <express DSCP>
// and no table at all when the host sends on no lane. Pure: the nft side is in dscp-marker.ts.
import type { Grant } from '../../alloc/types.js';
import { laneSourcePorts } from './desired.js';

export const MARK_TABLE = 'xlane';
export const MARK_CHAIN = 'dscp_mark';

export interface DscpMarking {
  dscp: number;
  /** Ascending and distinct; empty = no table. */
  ports: number[];
}

export function desiredMarking(grants: Iterable<Grant>, host: string, dscp: number): DscpMarking {
  return { dscp, ports: laneSourcePorts(grants, host) };
}

export function sameMarking(a: DscpMarking, b: DscpMarking): boolean {
  if (a.ports.length !== b.ports.length || a.ports.some((p, i) => p !== b.ports[i])) return false;
  return a.ports.length === 0 || a.dscp === b.dscp;
}

/**
 * One `nft -f` transaction (atomic: the kernel sees the old rule or the new one, never neither):
 * create the table if missing, delete it, and write it afresh — the usual nft idiom for "replace",
 * which also clears anything someone added to our table by hand.
 */
export function markingScript(m: DscpMarking): string {
  const lines = [`add table ip ${MARK_TABLE}`, `delete table ip ${MARK_TABLE}`];
  if (m.ports.length > 0) {
    lines.push(
      `add table ip ${MARK_TABLE}`,
      // priority mangle (-150): before any filter chain the host has, so they see the marked frame.
      `add chain ip ${MARK_TABLE} ${MARK_CHAIN} { type filter hook output priority mangle; policy accept; }`,
      `add rule ip ${MARK_TABLE} ${MARK_CHAIN} udp sport { ${m.ports.join(', ')} } ip dscp set ${m.dscp}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * What `nft -n -j list table ip xlane` shows, as a marking; `null` when the table holds anything
 * else than the one chain and rule markingScript writes (so the next reconcile rewrites it).
 */
export function parseMarking(json: string): DscpMarking | null {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return null;
  }
  const items = (doc as { nftables?: unknown })?.nftables;
  if (!Array.isArray(items)) return null;
  const chains = items.filter((i) => i?.chain).map((i) => i.chain);
  const rules = items.filter((i) => i?.rule).map((i) => i.rule);
  const others = items.filter((i) => !i?.chain && !i?.rule && !i?.table && !i?.metainfo);
  if (others.length > 0 || chains.length !== 1 || rules.length !== 1) return null;
  const chain = chains[0];
  if (chain.name !== MARK_CHAIN || chain.hook !== 'output' || chain.type !== 'filter') return null;
  const expr: unknown[] = Array.isArray(rules[0].expr) ? rules[0].expr : [];
  if (expr.length !== 2) return null;
  const ports = sourcePorts(expr[0]);
  const dscp = dscpSet(expr[1]);
  return ports && dscp !== undefined ? { dscp, ports } : null;
}

// biome-ignore lint/suspicious/noExplicitAny: nft's JSON, checked field by field
function sourcePorts(e: any): number[] | undefined {
  const m = e?.match;
  if (m?.op !== '==' || m.left?.payload?.protocol !== 'udp' || m.left.payload.field !== 'sport')
    return undefined;
  // One port prints as a number, several as a set (nft may fold neighbours into ranges).
  const right: unknown[] =
    typeof m.right === 'number' ? [m.right] : Array.isArray(m.right?.set) ? m.right.set : [];
  const ports: number[] = [];
  for (const r of right) {
    if (typeof r === 'number') ports.push(r);
    else {
      const range = (r as { range?: unknown })?.range;
      if (!Array.isArray(range) || typeof range[0] !== 'number' || typeof range[1] !== 'number')
        return undefined;
      for (let p = range[0]; p <= range[1]; p++) ports.push(p);
    }
  }
  return ports.length > 0 ? [...new Set(ports)].sort((a, b) => a - b) : undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: nft's JSON, checked field by field
function dscpSet(e: any): number | undefined {
  const key = e?.mangle?.key?.payload;
  const value = e?.mangle?.value;
  if (key?.protocol !== 'ip' || key.field !== 'dscp' || typeof value !== 'number') return undefined;
  return value;
}
