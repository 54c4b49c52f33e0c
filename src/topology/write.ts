// A TopologySpec back to the file format. Values are written as exact canonical unit strings
// ("10Gbit", "1.5us", "256KiB") and per-node fields shared by many nodes move into `defaults`,
// so a generated 10,000-host fabric stays readable. Invariant (tested with fast-check):
// parseTopology(topologyToYaml(s)) deep-equals s.
import { canonicalDuration, canonicalRate, canonicalSize } from '../util/units.js';
import { DEFAULT_EXPRESS_SHARE } from './normalise.js';
import type { TopologyFile } from './schema.js';
import { ETHERNET_WIRE_OVERHEAD, type LatencyRange, type TopologySpec } from './spec.js';

type Latency = string | { min: string; max: string };

/** Memoised per call: a fabric repeats a handful of values thousands of times. */
function memo(fn: (x: number) => string): (x: number) => string {
  const cache = new Map<number, string>();
  return (x) => {
    let text = cache.get(x);
    if (text === undefined) {
      text = fn(x);
      cache.set(x, text);
    }
    return text;
  };
}

function keyOf(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The value most entries share, if sharing it saves anything (used by at least two entries). */
function commonValue<T>(values: readonly T[]): T | undefined {
  const counts = new Map<string, { value: T; n: number }>();
  let best: { value: T; n: number } | undefined;
  for (const value of values) {
    const key = keyOf(value);
    const entry = counts.get(key) ?? { value, n: 0 };
    entry.n++;
    counts.set(key, entry);
    if (!best || entry.n > best.n) best = entry;
  }
  return best && best.n >= 2 ? best.value : undefined;
}

type Row = Record<string, unknown>;

/** Move `field` into `defaults` when shared, and keep it on the rows that differ. */
function factor(rows: Row[], field: string, defaults: Row): void {
  const shared = commonValue(rows.map((r) => r[field]));
  if (shared === undefined) return;
  const key = keyOf(shared);
  defaults[field] = shared;
  for (const row of rows) if (keyOf(row[field]) === key) delete row[field];
}

/** The file-format document for a spec: `validateTopologySpec(topologyToDocument(s))` equals s. */
export function topologyToDocument(spec: TopologySpec): TopologyFile {
  const rate = memo(canonicalRate);
  const duration = memo(canonicalDuration);
  const size = memo(canonicalSize);
  const latency = (range: LatencyRange): Latency =>
    range.minNs === range.maxNs
      ? duration(range.minNs)
      : { min: duration(range.minNs), max: duration(range.maxNs) };
  const hosts: Row[] = spec.hosts.map((h) => ({
    name: h.name,
    nicRate: rate(h.nicRateBps),
    sendLatency: latency(h.send),
    recvLatency: latency(h.recv),
    buffer: size(h.bufferBytes),
    ...(h.releaseJitterNs !== undefined ? { releaseJitter: duration(h.releaseJitterNs) } : {}),
  }));
  const switches: Row[] = spec.switches.map((s) => ({
    name: s.name,
    forwardingLatency: latency(s.forwarding),
    portBuffer: size(s.portBufferBytes),
  }));
  const links: Row[] = spec.links.map((l) => ({
    a: l.a,
    b: l.b,
    rate: rate(l.rateBps),
    propagation: duration(l.propagationNs),
    expressShare: l.expressShare,
    ...(l.serializes === false ? { serializes: false } : {}),
  }));

  const hostDefaults: Row = {};
  for (const f of ['nicRate', 'sendLatency', 'recvLatency', 'buffer']) factor(hosts, f, hostDefaults);
  // Optional field: a shared default would also reach the hosts that do not declare it.
  if (hosts.every((h) => h.releaseJitter !== undefined)) factor(hosts, 'releaseJitter', hostDefaults);
  const switchDefaults: Row = {};
  for (const f of ['forwardingLatency', 'portBuffer']) factor(switches, f, switchDefaults);
  const linkDefaults: Row = {};
  for (const f of ['rate', 'propagation']) factor(links, f, linkDefaults);
  // The link share's default lives at the top level (`expressShare`), as people write it.
  const shareDefaults: Row = {};
  factor(links, 'expressShare', shareDefaults);
  const expressShare = (shareDefaults.expressShare as number | undefined) ?? DEFAULT_EXPRESS_SHARE;
  for (const link of links) if (link.expressShare === expressShare) delete link.expressShare;

  const doc: Row = { name: spec.name, mtu: spec.mtuBytes };
  if (spec.maxFrameBytes !== spec.mtuBytes + ETHERNET_WIRE_OVERHEAD) doc.maxFrame = size(spec.maxFrameBytes);
  doc.expressShare = expressShare;
  doc.expressDscp = spec.expressDscp;
  doc.expressPort = spec.expressPort;
  const defaults: Row = {};
  if (Object.keys(hostDefaults).length > 0) defaults.host = hostDefaults;
  if (Object.keys(switchDefaults).length > 0) defaults.switch = switchDefaults;
  if (Object.keys(linkDefaults).length > 0) defaults.link = linkDefaults;
  if (Object.keys(defaults).length > 0) doc.defaults = defaults;
  doc.hosts = hosts;
  doc.switches = switches;
  doc.links = links;
  return doc as TopologyFile;
}

export interface ToYamlOptions {
  /** Comment written at the top of the file (e.g. the command that generated it). */
  comment?: string;
}

/** Plain scalars that YAML 1.2 (core schema) would read as something other than a string. */
const NOT_A_STRING = /^(?:null|Null|NULL|true|True|TRUE|false|False|FALSE)$/;
const SAFE_PLAIN = /^[A-Za-z_][A-Za-z0-9._-]*$|^[0-9][0-9.]*(?:e[+-]?[0-9]+)?[A-Za-z/]+$/;

// A small emitter instead of yaml's Document: the format is a fixed shape of flat flow mappings,
// and building a Document for a 10,000-host fabric takes a second where this takes milliseconds.
function scalar(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = String(value);
  // JSON strings are valid YAML double-quoted scalars.
  return SAFE_PLAIN.test(text) && !NOT_A_STRING.test(text) ? text : JSON.stringify(text);
}

function flow(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const parts = Object.entries(value as Row).map(([k, v]) => `${scalar(k)}: ${flow(v)}`);
    return `{ ${parts.join(', ')} }`;
  }
  return scalar(value);
}

/** YAML text for a spec, with one line per node and per link (the only nested mapping is `defaults`). */
export function topologyToYaml(spec: TopologySpec, opts: ToYamlOptions = {}): string {
  const doc = topologyToDocument(spec) as Row;
  const lines: string[] = [];
  if (opts.comment) for (const line of opts.comment.split('\n')) lines.push(line ? `# ${line}` : '#');
  for (const [key, value] of Object.entries(doc)) {
    if (Array.isArray(value)) {
      lines.push(value.length === 0 ? `${key}: []` : `${key}:`);
      for (const item of value) lines.push(`  - ${flow(item)}`);
    } else if (value !== null && typeof value === 'object') {
      // defaults: one field per line, which keeps lines short enough for formatters to leave alone.
      lines.push(`${key}:`);
      for (const [sub, inner] of Object.entries(value as Row)) {
        lines.push(`  ${scalar(sub)}:`);
        for (const [k, v] of Object.entries(inner as Row)) lines.push(`    ${scalar(k)}: ${flow(v)}`);
      }
    } else {
      lines.push(`${key}: ${scalar(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
