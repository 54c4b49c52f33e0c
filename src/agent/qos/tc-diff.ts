// Desired QoS vs what tc reports → the tc commands that close the gap, and nothing else: running
// the result twice in a row issues no command the second time.
import type { QosState, TcClassSpec, TcFilterSpec, U32Match } from './desired.js';
import type { ObservedClass, ObservedFilter, ObservedQdisc } from './tc-parse.js';

export interface ObservedQos {
  qdiscs: ObservedQdisc[];
  classes: ObservedClass[];
  filters: ObservedFilter[];
}

/** tc prints rates truncated to ~3 significant digits of its unit; closer than this is equal. */
const RATE_TOLERANCE = 2e-3;

export function rootQdisc(obs: ObservedQos): ObservedQdisc | undefined {
  return obs.qdiscs.find((q) => q.root);
}

/** Is the root qdisc the one desired (kind, handle and default class)? */
export function isOurRoot(q: ObservedQdisc | undefined, desired: QosState): boolean {
  if (q?.kind !== 'htb' || q.handle !== desired.qdisc.handle) return false;
  const def = q.options.default;
  const minor = typeof def === 'string' ? Number.parseInt(def.replace(/^0x/, ''), 16) : Number(def);
  return minor === Number.parseInt(desired.qdisc.defaultMinor, 16);
}

/** A root qdisc the kernel attached by itself (handle 0:): deleting ours brings it back. */
export function isDefaultRoot(q: ObservedQdisc | undefined): boolean {
  return q === undefined || q.handle === '0:';
}

export function diffQos(desired: QosState, obs: ObservedQos): string[][] {
  const dev = ['dev', desired.iface];
  const cmds: string[][] = [];
  const major = desired.qdisc.handle;
  let classes = obs.classes;
  let filters = obs.filters;
  if (!isOurRoot(rootQdisc(obs), desired)) {
    cmds.push([
      'qdisc',
      'replace',
      ...dev,
      'root',
      'handle',
      major,
      'htb',
      'default',
      desired.qdisc.defaultMinor,
    ]);
    // A replaced root takes its classes and filters with it.
    classes = [];
    filters = [];
  }
  const ours = classes.filter((c) => c.classid.startsWith(major));
  const wanted = new Set(desired.classes.map((c) => c.classid));

  const classCmds: string[][] = [];
  for (const want of desired.classes) {
    const have = ours.find((c) => c.classid === want.classid);
    if (have && sameClass(have, want, major)) continue;
    if (have && parentOf(have, major) !== want.parent) {
      // HTB cannot move a class to another parent: delete it (and its filters go with the pref
      // rebuild below) before adding it afresh.
      classCmds.push(['class', 'del', ...dev, 'classid', want.classid]);
    }
    classCmds.push(classReplace(desired.iface, want));
  }

  const filterDel: string[][] = [];
  const filterAdd: string[][] = [];
  const byPref = groupByPref(filters.filter((f) => f.parent === major));
  for (const [pref, have] of byPref) {
    const want = desired.filters.find((f) => f.pref === pref);
    if (!want || !sameFilter(have, want)) {
      filterDel.push([
        'filter',
        'del',
        ...dev,
        'parent',
        major,
        'protocol',
        have[0]!.protocol || 'ip',
        'pref',
        String(pref),
      ]);
    }
  }
  for (const want of desired.filters) {
    const have = byPref.get(want.pref);
    if (have && sameFilter(have, want)) continue;
    filterAdd.push(filterAddCmd(desired.iface, major, want));
  }

  // Classes nobody wants, children before parents; their filters are already gone by then.
  const classDel = ours
    .filter((c) => !wanted.has(c.classid))
    .sort((a, b) => depth(b, ours) - depth(a, ours))
    .map((c) => ['class', 'del', ...dev, 'classid', c.classid]);

  return [...cmds, ...classCmds, ...filterDel, ...classDel, ...filterAdd];
}

export function classReplace(iface: string, c: TcClassSpec): string[] {
  return [
    'class',
    'replace',
    'dev',
    iface,
    'parent',
    c.parent,
    'classid',
    c.classid,
    'htb',
    'rate',
    `${c.rateBps}bit`,
    'ceil',
    `${c.ceilBps}bit`,
    ...(c.prio !== undefined ? ['prio', String(c.prio)] : []),
    'quantum',
    String(c.quantumBytes),
    'burst',
    String(c.burstBytes),
    'cburst',
    String(c.cburstBytes),
  ];
}

export function filterAddCmd(iface: string, parent: string, f: TcFilterSpec): string[] {
  return [
    'filter',
    'add',
    'dev',
    iface,
    'parent',
    parent,
    'protocol',
    'ip',
    'pref',
    String(f.pref),
    'u32',
    ...f.matches.flatMap((m) => ['match', 'u32', hex(m.value), hex(m.mask), 'at', String(m.at)]),
    'flowid',
    f.flowid,
  ];
}

function sameClass(have: ObservedClass, want: TcClassSpec, major: string): boolean {
  return (
    parentOf(have, major) === want.parent &&
    (want.prio === undefined || have.prio === want.prio) &&
    close(have.rateBps, want.rateBps) &&
    close(have.ceilBps, want.ceilBps) &&
    closeSize(have.burstBytes, want.burstBytes, want.rateBps) &&
    closeSize(have.cburstBytes, want.cburstBytes, want.ceilBps)
  );
}

/** tc hands the kernel a burst as link time in 64 ns ticks and prints it back through whole
 * microseconds, each step truncating: what it shows is up to ~2 µs of the rate short of what was
 * asked (18,813 B at 1 Gbit/s reads back as 18,625 B), plus sprint_size's rounding. */
function closeSize(have: number | undefined, want: number, rateBps: number): boolean {
  return have !== undefined && Math.abs(have - want) <= (2 * rateBps) / 8e6 + 16;
}

function parentOf(c: ObservedClass, major: string): string {
  return c.parent === 'root' ? major : c.parent;
}

function sameFilter(have: ObservedFilter[], want: TcFilterSpec): boolean {
  if (have.length !== 1) return false;
  const f = have[0]!;
  return (
    f.kind === 'u32' &&
    f.protocol === 'ip' &&
    f.flowid === want.flowid &&
    sameMatches(f.matches, want.matches)
  );
}

function sameMatches(a: U32Match[], b: U32Match[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (m, i) => m.value >>> 0 === b[i]!.value >>> 0 && m.mask >>> 0 === b[i]!.mask >>> 0 && m.at === b[i]!.at,
    )
  );
}

function close(have: number | undefined, want: number): boolean {
  return have !== undefined && Math.abs(have - want) <= want * RATE_TOLERANCE;
}

function groupByPref(filters: ObservedFilter[]): Map<number, ObservedFilter[]> {
  const m = new Map<number, ObservedFilter[]>();
  for (const f of filters) m.set(f.pref, [...(m.get(f.pref) ?? []), f]);
  return m;
}

function depth(c: ObservedClass, all: ObservedClass[]): number {
  let d = 0;
  let cur: ObservedClass | undefined = c;
  while (cur && cur.parent !== 'root' && d < 16) {
    const p: string = cur.parent;
    cur = all.find((x) => x.classid === p);
    d++;
  }
  return d;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
