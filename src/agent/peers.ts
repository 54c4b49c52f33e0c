// Where each host of the topology receives express traffic. The controller knows hosts by name
// only (addresses are a deployment fact, not a topology fact), so the agent is told the map:
// `--peers h1=10.0.0.1,h2=10.0.0.2` and/or a peers file with one `name address` (or `name=address`)
// per line, `#` comments allowed. Later sources override earlier ones.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { XlaneError } from '../errors.js';
import { shorten } from '../util/shorten.js';

export type PeerMap = ReadonlyMap<string, string>;

interface PeerError {
  line?: number;
  col?: number;
  path: string;
  message: string;
}

/** Parses `h1=10.0.0.1,h2=10.0.0.2` (the --peers option). */
export function parsePeerList(text: string): Map<string, string> {
  const errors: PeerError[] = [];
  const out = new Map<string, string>();
  text.split(',').forEach((item, i) => {
    const entry = item.trim();
    if (entry === '') return;
    addEntry(out, entry.split('='), `peers[${i}]`, errors);
  });
  if (errors.length > 0) throw peersError('--peers', errors);
  return out;
}

/** Parses a peers file: one `name address` or `name=address` per line. */
export function parsePeersFile(text: string, file = 'peers file'): Map<string, string> {
  const errors: PeerError[] = [];
  const out = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (body === '') return;
    const col = raw.indexOf(body) + 1;
    const before = errors.length;
    addEntry(out, body.split(/\s*=\s*|\s+/), `line ${i + 1}`, errors);
    for (const e of errors.slice(before)) Object.assign(e, { line: i + 1, col });
  });
  if (errors.length > 0) throw peersError(file, errors);
  return out;
}

export function loadPeersFile(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new XlaneError('XL_ERR_FILE', `cannot read peers file ${path}: ${(err as Error).message}`, {
      file: path,
    });
  }
  return parsePeersFile(text, path);
}

/** Later maps override earlier ones (a --peers entry beats the file). */
export function mergePeers(...maps: PeerMap[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of maps) for (const [k, v] of m) out.set(k, v);
  return out;
}

function addEntry(out: Map<string, string>, parts: string[], path: string, errors: PeerError[]): void {
  const [name, address, ...rest] = parts.map((p) => p.trim());
  if (!name || !address || rest.length > 0) {
    errors.push({ path, message: `expected name=address, got "${shown(parts.join('='))}"` });
    return;
  }
  if (isIP(address) === 0) {
    errors.push({ path, message: `"${shown(address)}" (for ${shown(name)}) is not an IP address` });
    return;
  }
  if (out.has(name)) {
    errors.push({ path, message: `${name} is listed twice` });
    return;
  }
  out.set(name, address);
}

/** Every bad entry, one line each (as the topology loader does): fixing a file one error per run
 * is slow. */
function peersError(source: string, errors: PeerError[]): XlaneError {
  const line = (e: PeerError) =>
    `${e.line !== undefined ? `${source}:${e.line}:${e.col}` : `${source} ${e.path}`}: ${e.message}`;
  const message =
    errors.length === 1
      ? line(errors[0]!)
      : `${source}: ${errors.length} bad entries\n${errors.map(line).join('\n')}`;
  return new XlaneError('XL_ERR_VALIDATION', message, { file: source, errors });
}

/** An entry as quoted in an error. */
function shown(text: string): string {
  const { head, rest } = shorten(text);
  return head + rest;
}
