// Human units in, normalised numbers out (bit/s, ns, bytes), and back again.
// Decimal units are applied by shifting the exponent of the decimal string instead of multiplying
// floats, so "0.07us" is exactly 70 ns and a canonical string always parses back to the same number.
import { XlaneError } from '../errors.js';

interface UnitTable {
  /** What the value is, for error messages ("rate", "duration", "size"). */
  kind: string;
  base: string;
  /** Unit suffix → [power of ten, power of 1024]. */
  units: ReadonlyMap<string, readonly [number, number]>;
  hint: string;
}

const RATE_UNITS = new Map<string, readonly [number, number]>();
for (const [prefix, exp] of [
  ['', 0],
  ['K', 3],
  ['M', 6],
  ['G', 9],
  ['T', 12],
] as const) {
  for (const suffix of ['bit', 'bps', 'bit/s', 'b/s']) RATE_UNITS.set(`${prefix}${suffix}`, [exp, 0]);
}

const RATE: UnitTable = {
  kind: 'rate',
  base: 'bit/s',
  units: RATE_UNITS,
  hint: 'use bit, Kbit, Mbit, Gbit, Tbit (or bps, Kbps, Mbps, Gbps; "/s" allowed)',
};

const DURATION: UnitTable = {
  kind: 'duration',
  base: 'ns',
  units: new Map([
    ['ns', [0, 0]],
    ['us', [3, 0]],
    ['µs', [3, 0]], // U+00B5 micro sign
    ['μs', [3, 0]], // U+03BC greek small mu: both are typed in the wild
    ['ms', [6, 0]],
    ['s', [9, 0]],
  ]),
  hint: 'use ns, us (µs), ms or s',
};

const SIZE: UnitTable = {
  kind: 'size',
  base: 'bytes',
  units: new Map([
    ['B', [0, 0]],
    ['KB', [3, 0]],
    ['MB', [6, 0]],
    ['GB', [9, 0]],
    ['KiB', [0, 1]],
    ['MiB', [0, 2]],
    ['GiB', [0, 3]],
  ]),
  hint: 'use B, KB, MB, GB (decimal) or KiB, MiB, GiB',
};

const NUMBER_WITH_UNIT = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*(\S*)$/;

function fail(table: UnitTable, input: unknown, why: string): never {
  // String(), not JSON.stringify, for numbers: JSON writes Infinity and NaN as null.
  const shown = typeof input === 'string' ? JSON.stringify(input) : String(input);
  throw new XlaneError('XL_ERR_VALIDATION', `invalid ${table.kind} ${shown}: ${why}`, {
    value: input,
  });
}

/** The unit's scale, or why the suffix is refused. */
function lookupUnit(table: UnitTable, raw: string): readonly [number, number] | string {
  if (raw === '') return [0, 0];
  if (table === RATE) {
    // The prefix is case-insensitive (no one means milli-bit/s by "mbit"); the b is not: "GB/s"
    // is bytes and would be off by a factor of 8, so it is refused rather than guessed.
    const unit = table.units.get(raw) ?? table.units.get(raw.charAt(0).toUpperCase() + raw.slice(1));
    if (unit) return unit;
    if (/B/.test(raw)) return `unknown unit "${raw}": rates are in bits (${table.hint})`;
    return `unknown unit "${raw}" (${table.hint})`;
  }
  if (table === SIZE) {
    const unit = table.units.get(raw === 'kB' ? 'KB' : raw);
    if (unit) return unit;
    if (/^[KMG]?i?b$/i.test(raw))
      return `unknown unit "${raw}": sizes are in bytes, write an upper-case B (${table.hint})`;
    return `unknown unit "${raw}" (${table.hint})`;
  }
  return table.units.get(raw) ?? `unknown unit "${raw}" (${table.hint})`;
}

function parseWith(table: UnitTable, input: unknown): number {
  let value: number;
  if (typeof input === 'number') {
    value = input;
  } else if (typeof input === 'string') {
    const m = NUMBER_WITH_UNIT.exec(input.trim());
    if (!m) fail(table, input, `expected a number followed by a unit (${table.hint})`);
    const [, sign, mantissa, exp, unitText] = m;
    const unit = lookupUnit(table, unitText ?? '');
    if (typeof unit === 'string') fail(table, input, unit);
    const [pow10, pow1024] = unit;
    value = Number(`${sign}${mantissa}e${Number(exp ?? 0) + pow10}`) * 1024 ** pow1024;
  } else {
    fail(table, input, `expected a number (${table.base}) or a string with a unit (${table.hint})`);
  }
  if (Number.isNaN(value) || !Number.isFinite(value)) fail(table, input, 'not a finite number');
  if (value < 0) fail(table, input, 'must not be negative');
  return value;
}

/** A rate in bit/s: a number (bit/s) or a string like "10Gbit", "1.5 Mbps", "40Gbit/s". */
export function parseRate(input: unknown): number {
  return parseWith(RATE, input);
}

/** A duration in ns (may be fractional): a number (ns) or a string like "1.5us", "20µs", "2ms". */
export function parseDuration(input: unknown): number {
  return parseWith(DURATION, input);
}

/** A size in whole bytes: a number (bytes) or a string like "256KiB", "1MB", "1538B". */
export function parseSize(input: unknown): number {
  const bytes = parseWith(SIZE, input);
  if (!Number.isInteger(bytes)) fail(SIZE, input, `is ${bytes} bytes, not a whole number of bytes`);
  return bytes;
}

type Scale = readonly (readonly [string, number])[];

const RATE_SCALE: Scale = [
  ['Tbit', 1e12],
  ['Gbit', 1e9],
  ['Mbit', 1e6],
  ['Kbit', 1e3],
  ['bit', 1],
];
const DURATION_SCALE: Scale = [
  ['s', 1e9],
  ['ms', 1e6],
  ['us', 1e3],
  ['ns', 1],
];
const SIZE_SCALE: Scale = [
  ['GiB', 1024 ** 3],
  ['GB', 1e9],
  ['MiB', 1024 ** 2],
  ['MB', 1e6],
  ['KiB', 1024],
  ['KB', 1e3],
  ['B', 1],
];

function human(value: number, scale: Scale, micro = false): string {
  for (const [unit, factor] of scale) {
    if (Math.abs(value) >= factor || factor === 1) {
      const shown = Number((value / factor).toFixed(3));
      return `${shown}${micro && unit === 'us' ? 'µs' : unit}`;
    }
  }
  return String(value);
}

/** For people: "10Gbit", "1.25Mbit" (rounded to 3 decimals). */
export function formatRate(bps: number): string {
  return human(bps, RATE_SCALE);
}

/** For people: "11.44µs", "100ns" (rounded to 3 decimals). */
export function formatDuration(ns: number): string {
  return human(ns, DURATION_SCALE, true);
}

/** For people: "256KiB", "1538B", "1.5MB" (binary units when they are whole). */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of SIZE_SCALE) {
    if (unit.endsWith('iB') && bytes >= factor && Number.isInteger(bytes / factor))
      return `${bytes / factor}${unit}`;
  }
  if (bytes < 10_000) return `${bytes}B`;
  return human(
    bytes,
    SIZE_SCALE.filter(([u]) => !u.endsWith('iB')),
  );
}

/** The shortest readable string in the largest unit that parses back to exactly `value`. */
function canonical(value: number, scale: Scale, parse: (s: string) => number, maxDecimals: number): string {
  for (const [unit, factor] of scale) {
    if (value < factor && factor !== 1) continue;
    const text = `${value / factor}${unit}`;
    const decimals = /\.(\d+)/.exec(text)?.[1]?.length ?? 0;
    if (factor !== 1 && decimals > maxDecimals) continue;
    if (parse(text) === value) return text;
  }
  // The base unit always round-trips: Number#toString is exact and the parser reads exponents.
  return `${value}${scale[scale.length - 1]![0]}`;
}

/** Exact canonical form for files: `parseRate(canonicalRate(x)) === x` for every valid x. */
export function canonicalRate(bps: number): string {
  return canonical(bps, RATE_SCALE, parseRate, 3);
}

/** Exact canonical form for files: `parseDuration(canonicalDuration(x)) === x`. */
export function canonicalDuration(ns: number): string {
  return canonical(ns, DURATION_SCALE, parseDuration, 3);
}

/** Exact canonical form for files: `parseSize(canonicalSize(x)) === x` (whole bytes). */
export function canonicalSize(bytes: number): string {
  return canonical(bytes, SIZE_SCALE, parseSize, 0);
}
