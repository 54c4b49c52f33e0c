// Reads what the kernel holds, from tc's own output. iproute2 6.1 (this project's testbed) only
// half-supports JSON here: `tc -j qdisc show` is fine, `tc -j class show` prints plain text for
// HTB, and `tc -j filter show` writes one "match" key per u32 key in the same object (JSON.parse
// keeps only the last) and aborts with -p. So qdiscs are read as JSON and classes and filters from
// the plain text format, which has been stable for decades.
import { XlaneError } from '../../errors.js';
import type { U32Match } from './desired.js';

export interface ObservedQdisc {
  kind: string;
  handle: string;
  root: boolean;
  parent?: string;
  options: Record<string, unknown>;
}

export interface ObservedClass {
  kind: string;
  classid: string;
  /** A classid, or 'root' for a class directly under the qdisc. */
  parent: string;
  prio?: number;
  rateBps?: number;
  ceilBps?: number;
  burstBytes?: number;
  cburstBytes?: number;
}

export interface ObservedFilter {
  parent: string;
  protocol: string;
  pref: number;
  kind: string;
  /** u32 only: the key node (e.g. 800::800) and what it matches. */
  fh?: string;
  flowid?: string;
  matches: U32Match[];
}

export function parseQdiscJson(stdout: string): ObservedQdisc[] {
  const text = stdout.trim();
  if (text === '') return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new XlaneError('XL_ERR_KERNEL', 'tc -j qdisc show printed something that is not JSON', {
      stdout: text.slice(0, 200),
    });
  }
  if (!Array.isArray(raw)) throw new XlaneError('XL_ERR_KERNEL', 'tc -j qdisc show: expected a JSON array');
  return raw.map((q: Record<string, unknown>) => ({
    kind: String(q.kind),
    handle: String(q.handle),
    root: q.root === true,
    ...(typeof q.parent === 'string' ? { parent: q.parent } : {}),
    options: (q.options as Record<string, unknown>) ?? {},
  }));
}

/** `class htb e1:10 parent e1:1 prio 0 rate 200Mbit ceil 1Gbit burst 1600b cburst 1375b` */
export function parseClassText(stdout: string): ObservedClass[] {
  const out: ObservedClass[] = [];
  for (const line of stdout.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t[0] !== 'class' || t.length < 3) continue;
    const c: ObservedClass = { kind: t[1]!, classid: t[2]!, parent: 'root' };
    for (let i = 3; i < t.length; i++) {
      const key = t[i];
      const val = t[i + 1];
      if (key === 'root') c.parent = 'root';
      else if (key === 'parent' && val) c.parent = val;
      else if (key === 'prio' && val) c.prio = Number(val);
      else if (key === 'rate' && val) c.rateBps = parseTcRate(val);
      else if (key === 'ceil' && val) c.ceilBps = parseTcRate(val);
      else if (key === 'burst' && val) c.burstBytes = parseTcSize(val);
      else if (key === 'cburst' && val) c.cburstBytes = parseTcSize(val);
    }
    out.push(c);
  }
  return out;
}

/** Packets one HTB class has sent, from `tc -s class show` (undefined: no such class). */
export function classSentPackets(stdout: string, classid: string): number | undefined {
  const block = stdout.split(/\n(?=class )/).find((b) => b.startsWith(`class htb ${classid} `));
  const m = block && /Sent \d+ bytes (\d+) pkt/.exec(block);
  return m ? Number(m[1]) : undefined;
}

/**
 * ```
 * filter parent e1: protocol ip pref 1 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 *flowid e1:10 not_in_hw
 *   match 00b80000/00fc0000 at 0
 * ```
 * Only key nodes (fh with a non-zero node id) are returned for u32; the hash-table lines are
 * bookkeeping tc creates on its own. Other kinds are returned once per line.
 */
export function parseFilterText(stdout: string): ObservedFilter[] {
  const out: ObservedFilter[] = [];
  let last: ObservedFilter | undefined;
  for (const line of stdout.split('\n')) {
    const t = line.trim().split(/\s+/);
    if (t[0] === 'match' && last) {
      const m = /^([0-9a-f]{8})\/([0-9a-f]{8})$/i.exec(t[1] ?? '');
      const at = t[2] === 'at' ? Number(t[3]) : Number.NaN;
      if (m && Number.isInteger(at)) {
        last.matches.push({ value: Number.parseInt(m[1]!, 16), mask: Number.parseInt(m[2]!, 16), at });
      }
      continue;
    }
    last = undefined;
    if (t[0] !== 'filter') continue;
    const f: ObservedFilter = { parent: '', protocol: '', pref: 0, kind: '', matches: [] };
    for (let i = 1; i < t.length; i++) {
      const key = t[i]!;
      const val = t[i + 1];
      if (key === 'parent' && val) f.parent = val;
      else if (key === 'protocol' && val) f.protocol = val;
      else if (key === 'pref' && val) {
        f.pref = Number(val);
        if (t[i + 2] && !f.kind) f.kind = t[i + 2]!;
      } else if (key === 'fh' && val) f.fh = val;
      else if ((key === 'flowid' || key === '*flowid' || key === 'classid') && val) f.flowid = val;
    }
    if (f.kind === 'u32' && !isU32KeyNode(f.fh)) continue;
    out.push(f);
    last = f;
  }
  return out;
}

function isU32KeyNode(fh: string | undefined): boolean {
  if (!fh) return false;
  const parts = fh.split(':');
  return parts.length === 3 && parts[2] !== '' && Number.parseInt(parts[2]!, 16) !== 0;
}

const RATE_UNITS: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** tc's rate strings: "200Mbit", "1.5Gbit", "12345bit" (also "bps" = bytes/s in old versions). */
export function parseTcRate(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)(bit|bps)$/.exec(s);
  if (!m) return undefined;
  const n = Number(m[1]) * RATE_UNITS[m[2]!]!;
  return m[3] === 'bps' ? n * 8 : n;
}

const SIZE_UNITS: Record<string, number> = { b: 1, Kb: 1024, Mb: 1024 ** 2, Gb: 1024 ** 3 };

/** tc's size strings (iproute2's sprint_size): "1600b", "24Kb", "1.5Mb"; K is 1024 here. */
export function parseTcSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(b|Kb|Mb|Gb)$/.exec(s);
  return m ? Math.round(Number(m[1]) * SIZE_UNITS[m[2]!]!) : undefined;
}
