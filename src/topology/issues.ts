// One problem found in a topology document, and how the whole list becomes one XlaneError.
// Checks record issues against a path (["links", 2, "b"]) and never stop at the first one; the
// loader then adds line:column from the YAML document, so people can fix every mistake in one go.

import { type ErrorCode, XlaneError } from '../errors.js';
import { shorten } from '../util/shorten.js';

export type PathSegment = string | number;

/** 'validation': one value is malformed (type, unit, range, typo); 'topology': values disagree. */
export type IssueKind = 'validation' | 'topology';

export interface Issue {
  path: PathSegment[];
  message: string;
  kind: IssueKind;
  /** Point at the key rather than its value (an unknown key has no meaningful value). */
  atKey?: boolean;
}

/** One entry of `XlaneError.details.errors` for a topology. */
export interface TopologyErrorEntry {
  line?: number;
  col?: number;
  /** Dotted path of the offending value, e.g. `links[2].b`; '' for the whole document. */
  path: string;
  message: string;
  code: ErrorCode;
}

export interface Position {
  line: number;
  col: number;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `["links", 2, "b"]` → `links[2].b`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function issueCode(kind: IssueKind): ErrorCode {
  return kind === 'validation' ? 'XL_ERR_VALIDATION' : 'XL_ERR_TOPOLOGY';
}

/** How people read a value in a message: strings quoted, collections named. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    // A binary or huge file parses as one long string: the message names it, it does not echo it.
    const { head, rest } = shorten(value);
    return `${JSON.stringify(head)}${rest}`;
  }
  return String(value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The candidate a typo most likely meant, if any is close enough to suggest. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * The error for a list of issues: XL_ERR_VALIDATION if any value is malformed (fix those first),
 * else XL_ERR_TOPOLOGY. The message has one `file:line:col: path: message` line per issue, so it
 * reads like compiler output in a terminal and editors can jump to each location.
 */
export function topologyError(
  issues: readonly Issue[],
  source: string | undefined,
  locate?: (issue: Issue) => Position | undefined,
): XlaneError {
  const entries: TopologyErrorEntry[] = issues.map((issue) => {
    const pos = locate?.(issue);
    const entry: TopologyErrorEntry = {
      path: formatPath(issue.path),
      message: issue.message,
      code: issueCode(issue.kind),
    };
    if (pos) {
      entry.line = pos.line;
      entry.col = pos.col;
    }
    return entry;
  });
  // Stable sort: document order when positions are known, discovery order otherwise.
  entries.sort((x, y) => (x.line ?? 0) - (y.line ?? 0) || (x.col ?? 0) - (y.col ?? 0));
  const code = issues.some((i) => i.kind === 'validation') ? 'XL_ERR_VALIDATION' : 'XL_ERR_TOPOLOGY';
  const what = code === 'XL_ERR_VALIDATION' ? 'invalid topology' : 'inconsistent topology';
  const n = entries.length;
  const head = `${source ? `${source}: ` : ''}${what} (${n} error${n === 1 ? '' : 's'})`;
  const lines = entries.map((e) => formatEntry(e, source));
  return new XlaneError(code, [head, ...lines].join('\n'), { file: source, errors: entries });
}

export function formatEntry(e: TopologyErrorEntry, source: string | undefined): string {
  const where = [source, e.line, e.col].filter((x) => x !== undefined).join(':');
  return [where, e.path, e.message].filter((x) => x !== undefined && x !== '').join(': ');
}
