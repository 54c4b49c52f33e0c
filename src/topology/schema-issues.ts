// TypeBox's structural errors, reworded for people who edit YAML by hand: one issue per location,
// unknown keys with a "did you mean", and a union's own description instead of "Expected union value".
import { Kind, type TSchema } from '@sinclair/typebox';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { closest, describeValue, formatPath, type Issue, type PathSegment } from './issues.js';
import { TopologyFileSchema } from './schema.js';

/** `/links/2/b` → `["links", 2, "b"]` (numeric segments index arrays). */
function pointerToPath(pointer: string, value: unknown): PathSegment[] {
  const out: PathSegment[] = [];
  let cursor: unknown = value;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const index = Array.isArray(cursor) && /^\d+$/.test(seg) ? Number(seg) : seg;
    out.push(index);
    cursor =
      cursor !== null && typeof cursor === 'object' ? (cursor as Record<string, unknown>)[seg] : undefined;
  }
  return out;
}

function objectVariant(schema: TSchema): TSchema | undefined {
  const variants = (schema.anyOf ?? []) as TSchema[];
  return variants.find((v) => v[Kind] === 'Object');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** An issue plus what the de-duplication needs to know about it. */
interface SchemaIssue extends Issue {
  missing?: boolean;
  /** For an unknown key: the allowed key it most likely meant. */
  meant?: string | undefined;
}

function* reword(error: ValueError, prefix: PathSegment[], root: unknown): Generator<SchemaIssue> {
  const path = [...prefix, ...pointerToPath(error.path, root)];
  const got = describeValue(error.value);
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      yield { path, message: 'required key is missing', kind: 'validation', missing: true };
      return;
    case ValueErrorType.ObjectAdditionalProperties: {
      const key = String(path[path.length - 1]);
      const known = Object.keys((error.schema.properties ?? {}) as Record<string, unknown>);
      const guess = closest(key, known);
      const hint = guess ? `did you mean "${guess}"?` : `allowed: ${known.join(', ')}`;
      yield {
        path,
        message: `unknown key "${key}" (${hint})`,
        kind: 'validation',
        atKey: true,
        meant: guess,
      };
      return;
    }
    case ValueErrorType.Union: {
      // A latency written as a mapping: report its own mistakes (a typo in `min`) rather than
      // "not a number, not a string, not a mapping".
      const variant = objectVariant(error.schema);
      if (variant && isPlainObject(error.value)) {
        for (const inner of Value.Errors(variant, error.value)) yield* reword(inner, path, error.value);
        return;
      }
      const expected = error.schema.description ?? 'a different kind of value';
      yield { path, message: `expected ${expected}, got ${got}`, kind: 'validation' };
      return;
    }
    case ValueErrorType.Object:
      yield { path, message: `expected a mapping (key: value lines), got ${got}`, kind: 'validation' };
      return;
    case ValueErrorType.Array:
      yield { path, message: `expected a list (lines starting with "- "), got ${got}`, kind: 'validation' };
      return;
    case ValueErrorType.ArrayMinItems:
      yield { path, message: `must list at least ${error.schema.minItems} entry`, kind: 'validation' };
      return;
    case ValueErrorType.String: {
      const quote = typeof error.value === 'number' || typeof error.value === 'boolean' ? ' (quote it)' : '';
      yield { path, message: `expected a string, got ${got}${quote}`, kind: 'validation' };
      return;
    }
    case ValueErrorType.Number:
      yield { path, message: `expected a number, got ${got}`, kind: 'validation' };
      return;
    case ValueErrorType.Boolean:
      yield { path, message: `expected true or false, got ${got}`, kind: 'validation' };
      return;
    default:
      yield { path, message: error.message, kind: 'validation' };
  }
}

export interface SchemaCheck {
  issues: Issue[];
  /** Paths of keys that an unknown key probably meant to be (`hosts[0].nicRate` for `nicrate`). */
  typoTargets: Set<string>;
}

/** Every structural problem of a topology document, at most one per location. */
export function schemaIssues(value: unknown): SchemaCheck {
  const seen = new Set<string>();
  const found: SchemaIssue[] = [];
  for (const error of Value.Errors(TopologyFileSchema, value)) {
    for (const issue of reword(error, [], value)) {
      // A missing key is reported twice by TypeBox (missing, then "expected string"): keep one.
      const key = formatPath(issue.path);
      if (seen.has(key)) continue;
      seen.add(key);
      found.push(issue);
    }
  }
  const typoTargets = new Set(
    found.flatMap((i) => (i.meant ? [formatPath([...i.path.slice(0, -1), i.meant])] : [])),
  );
  // `{ min: 5us, mx: 50us }`: "did you mean max" already says it all; "max is missing" is noise.
  const issues = found
    .filter((i) => !(i.missing && typoTargets.has(formatPath(i.path))))
    .map(({ path, message, kind, atKey }) =>
      atKey ? { path, message, kind, atKey } : { path, message, kind },
    );
  return { issues, typoTargets };
}
