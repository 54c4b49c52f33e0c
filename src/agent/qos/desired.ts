// The kernel QoS a host should have, computed purely from its grants (Calico-Felix style: desired
// state here, reconciliation in tc-manager.ts). On the host's egress interface:
//
//   htb e1: (default → e1:20)
//   └─ e1:1  rate = ceil = link rate
//      ├─ e1:10 express      prio 0, rate = express share × link, ceil = link
//      └─ e1:20 best effort  prio 1, rate = the rest,              ceil = link
//
// Filters (u32, IPv4) steer into e1:10: pref 1 matches the express DSCP in the TOS byte; one filter
// per lane this host sends on matches the lane's UDP source port, for engines that cannot set the
// DSCP (their frames get the mark itself from dscp-mark.ts, for the switches). A port filter's pref IS the source port (both are u16), so adding or removing one lane
// never renumbers the filters of the others.
import type { Grant } from '../../alloc/types.js';
import { XlaneError } from '../../errors.js';
import type { TopologySpec } from '../../topology/spec.js';
import { HTB_BURST_NS, htbBurstBytes } from '../../util/htb-burst.js';

export const QOS_MAJOR = 'e1';
export const ROOT_HANDLE = `${QOS_MAJOR}:`;
export const PARENT_CLASS = `${QOS_MAJOR}:1`;
export const EXPRESS_CLASS = `${QOS_MAJOR}:10`;
/** tc reads handle minors as hex: "20" is 0x20, the minor of BEST_EFFORT_CLASS. */
export const BEST_EFFORT_MINOR = '20';
export const BEST_EFFORT_CLASS = `${QOS_MAJOR}:${BEST_EFFORT_MINOR}`;
export const DSCP_FILTER_PREF = 1;

export interface TcClassSpec {
  classid: string;
  /** The qdisc handle (e1:) for the top class, else a classid. */
  parent: string;
  rateBps: number;
  ceilBps: number;
  /** Leaf classes only: lower is served first. */
  prio?: number;
  quantumBytes: number;
  /** Bytes the class may bank at its rate, and at its ceil (src/util/htb-burst.ts says why). */
  burstBytes: number;
  cburstBytes: number;
}

/** One 32-bit u32 key: (packet word at byte offset `at`) & mask === value. */
export interface U32Match {
  value: number;
  mask: number;
  at: number;
}

export interface TcFilterSpec {
  pref: number;
  flowid: string;
  matches: U32Match[];
}

export interface QosState {
  iface: string;
  qdisc: { handle: string; defaultMinor: string };
  /** Parents before children. */
  classes: TcClassSpec[];
  /** By ascending pref. */
  filters: TcFilterSpec[];
}

export interface QosOptions {
  /** The host whose sending lanes get port filters. */
  host: string;
  linkRateBps: number;
  /** (0..1] of the link rate reserved for express traffic. */
  expressShare: number;
  dscp: number;
  /** HTB quantum of every class (≥ the largest frame); set explicitly so tc does not warn. */
  quantumBytes?: number;
  /** Link time every class may bank (default HTB_BURST_NS). */
  htbBurstNs?: number;
}

/** The egress link of `host` and its topology-wide QoS parameters. */
export function qosOptionsFor(spec: TopologySpec, host: string): QosOptions {
  const h = spec.hosts.find((x) => x.name === host);
  const link = spec.links.find((l) => l.a === host || l.b === host);
  if (!h || !link) {
    throw new XlaneError('XL_ERR_UNKNOWN_HOST', `host ${host} has no link in topology ${spec.name}`, {
      host,
    });
  }
  return {
    host,
    linkRateBps: Math.min(h.nicRateBps, link.rateBps),
    expressShare: link.expressShare,
    dscp: spec.expressDscp,
    quantumBytes: Math.max(1600, spec.maxFrameBytes),
  };
}

export function dscpMatch(dscp: number): U32Match {
  // The TOS byte is the second byte of the IPv4 header: DSCP in its upper six bits.
  return { value: ((dscp << 2) & 0xfc) << 16, mask: 0x00fc0000, at: 0 };
}

export function udpSourcePortMatches(port: number): U32Match[] {
  // Protocol (byte 9) = UDP, and the source port at byte 20 (IPv4 without options, as tc's own
  // `match ip sport` assumes).
  return [
    { value: 17 << 16, mask: 0x00ff0000, at: 8 },
    { value: (port << 16) >>> 0, mask: 0xffff0000, at: 20 },
  ];
}

export function desiredQos(grants: Iterable<Grant>, iface: string, opts: QosOptions): QosState {
  if (!(opts.linkRateBps > 0) || !(opts.expressShare > 0 && opts.expressShare <= 1)) {
    throw new XlaneError('XL_ERR_VALIDATION', 'QoS needs a link rate > 0 and an express share in (0, 1]', {
      linkRateBps: opts.linkRateBps,
      expressShare: opts.expressShare,
    });
  }
  if (!Number.isInteger(opts.dscp) || opts.dscp < 0 || opts.dscp > 63) {
    throw new XlaneError('XL_ERR_VALIDATION', `DSCP ${opts.dscp} is not in 0..63`, { dscp: opts.dscp });
  }
  const quantumBytes = opts.quantumBytes ?? 1600;
  // tc keeps rates in bytes per second: whole bytes avoid a difference that never goes away.
  const link = bytesRate(opts.linkRateBps);
  const express = Math.max(8, bytesRate(opts.linkRateBps * opts.expressShare));
  const bestEffort = Math.max(8, link - express);
  const burstNs = opts.htbBurstNs ?? HTB_BURST_NS;
  const cls = (classid: string, parent: string, rateBps: number, prio?: number): TcClassSpec => ({
    classid,
    parent,
    rateBps,
    ceilBps: link,
    ...(prio !== undefined ? { prio } : {}),
    quantumBytes,
    burstBytes: htbBurstBytes(rateBps, burstNs, quantumBytes),
    cburstBytes: htbBurstBytes(link, burstNs, quantumBytes),
  });
  const classes: TcClassSpec[] = [
    cls(PARENT_CLASS, ROOT_HANDLE, link),
    cls(EXPRESS_CLASS, PARENT_CLASS, express, 0),
    cls(BEST_EFFORT_CLASS, PARENT_CLASS, bestEffort, 1),
  ];
  const filters: TcFilterSpec[] = [
    { pref: DSCP_FILTER_PREF, flowid: EXPRESS_CLASS, matches: [dscpMatch(opts.dscp)] },
    ...laneSourcePorts(grants, opts.host).map((port) => ({
      pref: port,
      flowid: EXPRESS_CLASS,
      matches: udpSourcePortMatches(port),
    })),
  ];
  return { iface, qdisc: { handle: ROOT_HANDLE, defaultMinor: BEST_EFFORT_MINOR }, classes, filters };
}

/** The UDP source ports of the lanes `host` sends on, ascending and distinct. */
export function laneSourcePorts(grants: Iterable<Grant>, host: string): number[] {
  const ports = new Set<number>();
  for (const g of grants) {
    // pref 1 belongs to the DSCP filter; the allocator hands out ports far above it.
    if (g.sender === host && g.srcPort > DSCP_FILTER_PREF && g.srcPort <= 0xffff) ports.add(g.srcPort);
  }
  return [...ports].sort((a, b) => a - b);
}

function bytesRate(bps: number): number {
  return Math.max(8, Math.floor(bps / 8) * 8);
}
