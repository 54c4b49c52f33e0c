// The state file: every original value, written before the first change, so `tune revert` (or an
// operator reading it) can restore the machine exactly even after a crash in the middle of apply.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XlaneError } from '../errors.js';
import { writeFileAtomic } from './host-fs.js';
import type { Change } from './plan.js';

export type SavedChange = Change & {
  /** Exact bytes before apply (file changes). */
  original?: string;
  /** What revert writes: the original bytes, or the selected word of a selector file. */
  restore?: string;
};

export interface TuneState {
  version: 1;
  createdAt: string;
  root: string;
  core: number;
  nic: string | null;
  changes: SavedChange[];
}

export function defaultStateFile(root: string): string {
  return root === '/' ? '/var/lib/xlane/tune-state.json' : join(root, 'var/lib/xlane/tune-state.json');
}

export function writeState(file: string, state: TuneState): void {
  try {
    writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
  } catch (e) {
    throw new XlaneError('XL_ERR_FILE', `cannot write tune state ${file}: ${(e as Error).message}`, { file });
  }
}

export function readState(file: string): TuneState | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new XlaneError(
      'XL_ERR_TUNE_STATE',
      `tune state ${file} is not valid JSON: ${(e as Error).message}`,
      {
        file,
      },
    );
  }
  const s = parsed as Partial<TuneState>;
  if (s.version !== 1 || !Array.isArray(s.changes) || typeof s.root !== 'string')
    throw new XlaneError('XL_ERR_TUNE_STATE', `tune state ${file} has an unknown format`, { file });
  return s as TuneState;
}
