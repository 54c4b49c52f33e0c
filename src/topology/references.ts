// Checks between entries of a topology document: names are unique across hosts and switches,
// links join two distinct known nodes at most once, and every host is cabled. Entries whose own
// fields are malformed are skipped (their error is reported elsewhere), so one typo does not
// cascade into a dozen "unknown node" errors.
import { closest, type Issue, type PathSegment } from './issues.js';

type Dict = Record<string, unknown>;

/** Beyond this many nodes, listing them all in an error drowns the message. */
const MAX_LISTED = 12;

function entries(raw: unknown): [Dict | undefined, number][] {
  if (!Array.isArray(raw)) return [];
  return raw.map((x, i) => [
    x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Dict) : undefined,
    i,
  ]);
}

function unknownNodeMessage(name: string, known: string[]): string {
  if (known.length <= MAX_LISTED) return `unknown node "${name}" (known: ${known.join(', ')})`;
  const guess = closest(name, known);
  return `unknown node "${name}" (${guess ? `did you mean "${guess}"? ` : ''}${known.length} nodes defined)`;
}

export function checkReferences(root: Dict): Issue[] {
  const issues: Issue[] = [];
  const add = (path: PathSegment[], message: string) => issues.push({ path, message, kind: 'topology' });

  // One namespace for hosts and switches: a link endpoint must name exactly one node.
  const firstUse = new Map<string, string>();
  const hostNames = new Map<string, number>();
  for (const section of ['hosts', 'switches'] as const) {
    for (const [node, i] of entries(root[section])) {
      const name = node?.name;
      if (typeof name !== 'string') continue;
      const here = `${section}[${i}]`;
      const first = firstUse.get(name);
      if (first !== undefined)
        add([section, i, 'name'], `duplicate node name "${name}" (already used by ${first})`);
      else firstUse.set(name, here);
      if (section === 'hosts' && !hostNames.has(name)) hostNames.set(name, i);
    }
  }
  const known = [...firstUse.keys()];
  // With the node lists themselves broken, every link endpoint would look unknown: say nothing.
  const nodesReadable =
    Array.isArray(root.hosts) && (root.switches === undefined || Array.isArray(root.switches));

  const linked = new Set<string>();
  const pairs = new Map<string, number>();
  let allLinksReadable = Array.isArray(root.links);
  for (const [link, i] of entries(root.links)) {
    const a = link?.a;
    const b = link?.b;
    if (typeof a !== 'string' || typeof b !== 'string') {
      allLinksReadable = false;
      continue;
    }
    linked.add(a);
    linked.add(b);
    let endpointsKnown = true;
    for (const [end, name] of [
      ['a', a],
      ['b', b],
    ] as const) {
      if (nodesReadable && !firstUse.has(name)) {
        add(['links', i, end], unknownNodeMessage(name, known));
        endpointsKnown = false;
      }
    }
    if (a === b) {
      add(['links', i], `link connects "${a}" to itself`);
      continue;
    }
    if (!endpointsKnown) continue;
    const pair = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
    const first = pairs.get(pair);
    if (first !== undefined) {
      // Links are full duplex: a second a–b link (either direction) would be a parallel cable,
      // which the allocator's single-path model does not represent.
      add(['links', i], `duplicate link between "${a}" and "${b}" (first at links[${first}])`);
    } else {
      pairs.set(pair, i);
    }
  }

  if (allLinksReadable) {
    for (const [name, i] of hostNames) {
      if (!linked.has(name)) add(['hosts', i, 'name'], `host "${name}" has no link`);
    }
  }
  return issues;
}
