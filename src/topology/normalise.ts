// From a parsed topology document (YAML or JSON, human units, defaults) to the normalised
// TopologySpec, collecting every problem on the way. Pure: no files, no positions; the caller
// maps issue paths to line:column. Works on partially invalid input so that one typo does not
// hide the next mistake, but never reports a consequence of an error already reported.
import { isXlaneError, XlaneError } from '../errors.js';
import {
  formatDuration,
  formatRate,
  formatSize,
  parseDuration,
  parseRate,
  parseSize,
} from '../util/units.js';
import { formatPath, type Issue, type PathSegment } from './issues.js';
import { checkReferences } from './references.js';
import { type SchemaCheck, schemaIssues } from './schema-issues.js';
import {
  ETHERNET_WIRE_OVERHEAD,
  type HostSpec,
  type LatencyRange,
  type LinkSpec,
  type SwitchSpec,
  type TopologySpec,
} from './spec.js';

export const DEFAULT_MTU = 1500;
export const DEFAULT_EXPRESS_SHARE = 0.5;
export const DEFAULT_EXPRESS_DSCP = 46;
export const DEFAULT_EXPRESS_PORT = 7400;
/** Node names end up in paths, CLI arguments and namespace/interface names: keep them plain. */
export const NODE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$/;

type Path = PathSegment[];
type Dict = Record<string, unknown>;

function asDict(value: unknown): Dict | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Dict) : undefined;
}

function isUnitValue(value: unknown): value is number | string {
  return typeof value === 'number' || typeof value === 'string';
}

class Collector {
  readonly issues: Issue[];
  /** Keys that a reported typo probably meant: "missing" would repeat that error. */
  private readonly typoTargets: Set<string>;

  constructor(structural: SchemaCheck) {
    this.issues = [...structural.issues];
    this.typoTargets = structural.typoTargets;
  }

  add(path: Path, message: string, kind: Issue['kind'] = 'validation'): void {
    this.issues.push({ path, message, kind });
  }

  isTypoTarget(path: Path): boolean {
    return this.typoTargets.has(formatPath(path));
  }

  /** Parse a unit value; undefined if absent, of the wrong type (already reported) or invalid. */
  unit(raw: unknown, path: Path, kind: UnitKind): number | undefined {
    const { parse, positive, max, format } = kind;
    // A non-finite number (YAML .inf, .nan) was already reported by the schema check.
    if (!isUnitValue(raw) || (typeof raw === 'number' && !Number.isFinite(raw))) return undefined;
    let value: number;
    try {
      value = parse(raw);
    } catch (err) {
      if (!isXlaneError(err)) throw err;
      this.add(path, err.message);
      return undefined;
    }
    if (positive && value <= 0) {
      this.add(path, `must be greater than 0, got ${describe(raw)}`);
      return undefined;
    }
    // Absurd but finite values would pass every later check and come out as bounds of Infinity
    // ns, which JSON (the store, the API) cannot even carry.
    if (value > max || (positive && value < kind.min)) {
      this.add(path, `must be between ${format(kind.min)} and ${format(max)}, got ${describe(raw)}`);
      return undefined;
    }
    return value;
  }

  latency(raw: unknown, path: Path): LatencyRange | undefined {
    if (isUnitValue(raw)) {
      const ns = this.unit(raw, path, DURATION);
      return ns === undefined ? undefined : { minNs: ns, maxNs: ns };
    }
    const dict = asDict(raw);
    if (!dict) return undefined;
    const minNs = this.unit(dict.min, [...path, 'min'], DURATION);
    const maxNs = this.unit(dict.max, [...path, 'max'], DURATION);
    if (minNs === undefined || maxNs === undefined) return undefined;
    if (minNs > maxNs) {
      this.add(path, `min (${describe(dict.min)}) is greater than max (${describe(dict.max)})`);
      return undefined;
    }
    return { minNs, maxNs };
  }

  share(raw: unknown, path: Path): number | undefined {
    if (typeof raw !== 'number') return undefined;
    if (!(raw >= MIN_SHARE && raw <= 1)) {
      this.add(path, `must be in [${MIN_SHARE}, 1], got ${raw}`);
      return undefined;
    }
    return raw;
  }

  integer(raw: unknown, path: Path, min: number, max: number): number | undefined {
    if (typeof raw !== 'number') return undefined;
    if (!Number.isInteger(raw) || raw < min || raw > max) {
      this.add(path, `must be a whole number in [${min}, ${max}], got ${raw}`);
      return undefined;
    }
    return raw;
  }

  name(raw: unknown, path: Path): string | undefined {
    if (typeof raw !== 'string') return undefined;
    if (!NODE_NAME.test(raw)) {
      this.add(
        path,
        `invalid node name ${JSON.stringify(raw)}: use up to 63 letters, digits, ".", "_" or "-", not starting with "." or "-"`,
      );
      return undefined;
    }
    return raw;
  }
}

function describe(raw: unknown): string {
  return typeof raw === 'string' ? raw : String(raw);
}

/** A field of a node that falls back to `defaults.<kind>.<field>`. */
interface Fallback<T> {
  value: T | undefined;
  /** The default was given (valid or not): a node without the field is then not "missing". */
  given: boolean;
}

function fallback<T>(defaults: Dict | undefined, field: string, path: Path, read: Reader<T>): Fallback<T> {
  const raw = defaults?.[field];
  return { value: raw === undefined ? undefined : read(raw, [...path, field]), given: raw !== undefined };
}

type Reader<T> = (raw: unknown, path: Path) => T | undefined;

/** Reads a node's fields, falling back to `defaultsPath` (e.g. `defaults.host`) for absent ones. */
function fieldsOf(c: Collector, defaultsPath: string) {
  return (node: Dict, nodePath: Path) =>
    <T>(key: string, def: Fallback<T>, read: Reader<T>): T | undefined => {
      if (node[key] !== undefined) return read(node[key], [...nodePath, key]);
      if (def.given) return def.value;
      if (!c.isTypoTarget([...nodePath, key])) {
        c.add([...nodePath, key], `required key is missing (set it here or in ${defaultsPath}.${key})`);
      }
      return undefined;
    };
}

function isDefined<T>(x: T | undefined): x is T {
  return x !== undefined;
}

function items(raw: unknown): unknown[] {
  return Array.isArray(raw) ? raw : [];
}

export interface NormaliseResult {
  spec: TopologySpec | undefined;
  issues: Issue[];
}

/** How a unit value is read and the range it must fall in (min applies to positive kinds only). */
interface UnitKind {
  parse: (v: unknown) => number;
  positive: boolean;
  min: number;
  max: number;
  format: (v: number) => string;
}

// Wide enough for any real fabric, narrow enough that no sum or quotient of them overflows.
/** Link and NIC rates: 1 kbit/s to 10 Tbit/s. */
const RATE: UnitKind = { parse: parseRate, positive: true, min: 1e3, max: 1e13, format: formatRate };
/** Buffers and frames: 1 B to 1 GiB. */
const SIZE: UnitKind = { parse: parseSize, positive: true, min: 1, max: 2 ** 30, format: formatSize };
/** Propagation, switch and host latencies, release jitter: 0 to 1 s. */
const DURATION: UnitKind = {
  parse: parseDuration,
  positive: false,
  min: 0,
  max: 1e9,
  format: formatDuration,
};
/** The smallest express share: below it no lane fits, and rates divided by it run away. */
const MIN_SHARE = 0.001;

/** Check and convert a topology document; `spec` is set only when there are no issues. */
export function normaliseTopology(value: unknown): NormaliseResult {
  const c = new Collector(schemaIssues(value));
  const root = asDict(value);
  if (!root) return { spec: undefined, issues: c.issues };

  const mtuBytes = root.mtu === undefined ? DEFAULT_MTU : c.integer(root.mtu, ['mtu'], 576, 9000);
  let maxFrameBytes = mtuBytes === undefined ? undefined : mtuBytes + ETHERNET_WIRE_OVERHEAD;
  if (root.maxFrame !== undefined) {
    const given = c.unit(root.maxFrame, ['maxFrame'], SIZE);
    if (given !== undefined && maxFrameBytes !== undefined && given < maxFrameBytes) {
      // A smaller value would understate how long a best-effort frame blocks the express queue.
      c.add(
        ['maxFrame'],
        `must be at least mtu + ${ETHERNET_WIRE_OVERHEAD} = ${maxFrameBytes} bytes, got ${given}`,
      );
    }
    maxFrameBytes = given;
  }
  const linkShare =
    root.expressShare === undefined ? DEFAULT_EXPRESS_SHARE : c.share(root.expressShare, ['expressShare']);
  const expressDscp =
    root.expressDscp === undefined
      ? DEFAULT_EXPRESS_DSCP
      : c.integer(root.expressDscp, ['expressDscp'], 0, 63);
  const expressPort =
    root.expressPort === undefined
      ? DEFAULT_EXPRESS_PORT
      : c.integer(root.expressPort, ['expressPort'], 1, 65535);

  const defaults = asDict(root.defaults);
  const dHost = asDict(defaults?.host);
  const dSwitch = asDict(defaults?.switch);
  const dLink = asDict(defaults?.link);
  const rate = (raw: unknown, p: Path) => c.unit(raw, p, RATE);
  const size = (raw: unknown, p: Path) => c.unit(raw, p, SIZE);
  const duration = (raw: unknown, p: Path) => c.unit(raw, p, DURATION);
  const latency = (raw: unknown, p: Path) => c.latency(raw, p);

  const hostDefaultsPath: Path = ['defaults', 'host'];
  const hd = {
    nicRate: fallback(dHost, 'nicRate', hostDefaultsPath, rate),
    sendLatency: fallback(dHost, 'sendLatency', hostDefaultsPath, latency),
    recvLatency: fallback(dHost, 'recvLatency', hostDefaultsPath, latency),
    buffer: fallback(dHost, 'buffer', hostDefaultsPath, size),
    releaseJitter: fallback(dHost, 'releaseJitter', hostDefaultsPath, duration),
  };
  const switchDefaultsPath: Path = ['defaults', 'switch'];
  const sd = {
    forwardingLatency: fallback(dSwitch, 'forwardingLatency', switchDefaultsPath, latency),
    portBuffer: fallback(dSwitch, 'portBuffer', switchDefaultsPath, size),
  };
  const linkDefaultsPath: Path = ['defaults', 'link'];
  const ld = {
    rate: fallback(dLink, 'rate', linkDefaultsPath, rate),
    propagation: fallback(dLink, 'propagation', linkDefaultsPath, duration),
  };

  const hostFields = fieldsOf(c, 'defaults.host');
  const hosts: (HostSpec | undefined)[] = items(root.hosts).map((raw, i) => {
    const node = asDict(raw);
    const p: Path = ['hosts', i];
    if (!node) return undefined;
    const field = hostFields(node, p);
    const name = c.name(node.name, [...p, 'name']);
    const nicRateBps = field('nicRate', hd.nicRate, rate);
    const send = field('sendLatency', hd.sendLatency, latency);
    const recv = field('recvLatency', hd.recvLatency, latency);
    const bufferBytes = field('buffer', hd.buffer, size);
    // Optional: absent means 0 (no grid, see HostSpec.releaseJitterNs).
    const releaseJitterNs =
      node.releaseJitter !== undefined
        ? duration(node.releaseJitter, [...p, 'releaseJitter'])
        : hd.releaseJitter.value;
    if (name === undefined || nicRateBps === undefined || !send || !recv || bufferBytes === undefined) {
      return undefined;
    }
    return {
      name,
      nicRateBps,
      send,
      recv,
      bufferBytes,
      ...(releaseJitterNs !== undefined ? { releaseJitterNs } : {}),
    };
  });

  const switchFields = fieldsOf(c, 'defaults.switch');
  const switches: (SwitchSpec | undefined)[] = items(root.switches).map((raw, i) => {
    const node = asDict(raw);
    const p: Path = ['switches', i];
    if (!node) return undefined;
    const field = switchFields(node, p);
    const name = c.name(node.name, [...p, 'name']);
    const forwarding = field('forwardingLatency', sd.forwardingLatency, latency);
    const portBufferBytes = field('portBuffer', sd.portBuffer, size);
    if (name === undefined || !forwarding || portBufferBytes === undefined) return undefined;
    return { name, forwarding, portBufferBytes };
  });

  const shareDefault: Fallback<number> = { value: linkShare, given: true };
  const linkFields = fieldsOf(c, 'defaults.link');
  const links: (LinkSpec | undefined)[] = items(root.links).map((raw, i) => {
    const node = asDict(raw);
    const p: Path = ['links', i];
    if (!node) return undefined;
    const field = linkFields(node, p);
    const a = typeof node.a === 'string' ? node.a : undefined;
    const b = typeof node.b === 'string' ? node.b : undefined;
    const rateBps = field('rate', ld.rate, rate);
    const propagationNs = field('propagation', ld.propagation, duration);
    // The share's fallback is the top-level `expressShare` (or its built-in default), never missing.
    const expressShare = field('expressShare', shareDefault, (r, q) => c.share(r, q));
    if (a === undefined || b === undefined || rateBps === undefined) return undefined;
    if (propagationNs === undefined || expressShare === undefined) return undefined;
    // The schema has checked it is a boolean.
    const transmits = node.serializes === false ? { serializes: false } : {};
    return { a, b, rateBps, propagationNs, expressShare, ...transmits };
  });

  for (const issue of checkReferences(root)) c.issues.push(issue);

  const name = typeof root.name === 'string' ? root.name : undefined;
  if (name === '') c.add(['name'], 'must not be empty');
  if (c.issues.length > 0 || !name || mtuBytes === undefined || maxFrameBytes === undefined) {
    return { spec: undefined, issues: c.issues };
  }
  if (expressDscp === undefined || expressPort === undefined) return { spec: undefined, issues: c.issues };
  if (!hosts.every(isDefined) || !switches.every(isDefined) || !links.every(isDefined)) {
    throw new XlaneError('XL_ERR_INTERNAL', 'topology entry dropped without an error being reported');
  }
  return {
    spec: {
      name,
      mtuBytes,
      maxFrameBytes,
      expressDscp,
      expressPort,
      hosts,
      switches,
      links,
    },
    issues: c.issues,
  };
}
