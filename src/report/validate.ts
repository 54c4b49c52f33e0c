// Structural check of an interference record, with messages that name the field
// (`runs[1].lanes[0].p99Us: expected a number, got "fast"`) so a bench bug is found in one read.
import type { TSchema } from '@sinclair/typebox';
import { type ValueError, ValueErrorType } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';
import { XlaneError } from '../errors.js';
import { formatPath, type PathSegment } from '../topology/issues.js';
import { InterferenceRecordSchema, type SavedRecord } from './schema.js';

export interface RecordIssue {
  /** Dotted path of the offending value, e.g. `runs[1].lanes[0].p99Us`; '' for the whole file. */
  path: string;
  message: string;
}

/** How many issues the error message lists (all of them are in `details.issues`). */
const SHOWN_ISSUES = 5;

function pointerToPath(pointer: string): PathSegment[] {
  return pointer
    .split('/')
    .slice(1)
    .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

function expected(schema: TSchema, fallback: string): string {
  return typeof schema.description === 'string' ? schema.description : fallback;
}

function reword(e: ValueError): string {
  const got = describe(e.value);
  switch (e.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'required field is missing';
    case ValueErrorType.Number:
      return `expected a number, got ${got}`;
    case ValueErrorType.Integer:
      return `expected a whole number, got ${got}`;
    case ValueErrorType.String:
      return `expected a string, got ${got}`;
    case ValueErrorType.Boolean:
      return `expected true or false, got ${got}`;
    case ValueErrorType.Array:
      return `expected a list, got ${got}`;
    case ValueErrorType.Object:
      return `expected an object, got ${got}`;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
      return `expected ${expected(e.schema, 'a number in range')}, got ${got}`;
    case ValueErrorType.Literal:
    case ValueErrorType.Union:
      return `expected ${expected(e.schema, 'a different value')}, got ${got}`;
    default:
      return `${e.message}, got ${got}`;
  }
}

/** Every structural problem, at most one per field (TypeBox reports a missing field twice). */
export function recordIssues(value: unknown): RecordIssue[] {
  const byPath = new Map<string, string>();
  for (const e of Value.Errors(InterferenceRecordSchema, value)) {
    const path = formatPath(pointerToPath(e.path));
    if (!byPath.has(path)) byPath.set(path, reword(e));
  }
  return [...byPath].map(([path, message]) => ({ path, message }));
}

/** A file of another kind or version gets one sentence, not a list of every field it lacks. */
function checkKind(value: unknown, source: string): void {
  const v =
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  if (v.kind !== 'xlane-interference') {
    const issues: RecordIssue[] = [
      { path: 'kind', message: `expected "xlane-interference", got ${describe(v.kind)}` },
    ];
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `${source} is not an interference record: kind is ${describe(v.kind)}, not "xlane-interference"`,
      { file: source, issues },
    );
  }
  if (v.version !== 1) {
    const issues: RecordIssue[] = [{ path: 'version', message: `expected 1, got ${describe(v.version)}` }];
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `${source}: version ${describe(v.version)} is not supported (this xlane reads version 1)`,
      { file: source, issues },
    );
  }
}

/** The record, or XL_ERR_VALIDATION listing the first few wrong fields (`source` names the file). */
export function validateRecord(value: unknown, source: string): SavedRecord {
  checkKind(value, source);
  const issues = recordIssues(value);
  if (issues.length === 0) return value as SavedRecord;
  const lines = issues.slice(0, SHOWN_ISSUES).map((i) => `  ${i.path || '(whole file)'}: ${i.message}`);
  if (issues.length > SHOWN_ISSUES) lines.push(`  … and ${issues.length - SHOWN_ISSUES} more`);
  throw new XlaneError('XL_ERR_VALIDATION', `${source} is not an interference record:\n${lines.join('\n')}`, {
    file: source,
    issues,
  });
}
