// Reading RUN_DIR/interference.json: a missing folder or file is XL_ERR_NOT_FOUND, text that is not
// JSON is XL_ERR_BAD_JSON, JSON that is not a record is XL_ERR_VALIDATION naming the field.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XlaneError } from '../errors.js';
import type { SavedRecord } from './schema.js';
import { validateRecord } from './validate.js';

export const RECORD_FILE = 'interference.json';

export function recordPath(runDir: string): string {
  return join(runDir, RECORD_FILE);
}

/** Parse and validate the text of an interference record; `source` names it in errors. */
export function parseRecord(text: string, source: string): SavedRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new XlaneError('XL_ERR_BAD_JSON', `${source} is not valid JSON: ${(err as Error).message}`, {
      file: source,
    });
  }
  return validateRecord(value, source);
}

export function loadRecord(runDir: string): SavedRecord {
  const file = recordPath(runDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new XlaneError(
        'XL_ERR_NOT_FOUND',
        `${file} does not exist (is ${runDir} a run folder of \`xlane bench interference\`?)`,
        { file },
      );
    throw new XlaneError('XL_ERR_FILE', `cannot read ${file}: ${(err as Error).message}`, { file });
  }
  return parseRecord(text, file);
}
