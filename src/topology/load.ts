// Entry points for topology input: YAML text or file (with line:column in every error) and JSON
// values (API bodies; errors carry paths only). All of them end in normaliseTopology.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { XlaneError } from '../errors.js';
import { formatEntry, type TopologyErrorEntry, topologyError } from './issues.js';
import { locateInDocument } from './locate.js';
import { normaliseTopology } from './normalise.js';
import type { TopologySpec } from './spec.js';

export { topologyToDocument, topologyToYaml } from './write.js';

function yamlSyntaxError(entries: TopologyErrorEntry[], file: string | undefined): XlaneError {
  const n = entries.length;
  const head = `${file ? `${file}: ` : ''}not valid YAML (${n} error${n === 1 ? '' : 's'})`;
  return new XlaneError('XL_ERR_BAD_YAML', [head, ...entries.map((e) => formatEntry(e, file))].join('\n'), {
    file,
    errors: entries,
  });
}

/** Parse and validate topology YAML; `file` only labels the errors. */
export function parseTopology(text: string, file?: string): TopologySpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw yamlSyntaxError(
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        // yaml appends " at line L, column C:" and a source excerpt; we print our own position.
        const message = e.message.split(/ at line \d+, column \d+/)[0] ?? e.message;
        return { line: pos.line, col: pos.col, path: '', message, code: 'XL_ERR_BAD_YAML' as const };
      }),
      file,
    );
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // e.g. an alias bomb ("excessive alias count"): refuse it as bad YAML, not as a crash.
    const message = err instanceof Error ? err.message : String(err);
    throw yamlSyntaxError([{ line: 1, col: 1, path: '', message, code: 'XL_ERR_BAD_YAML' }], file);
  }
  const { spec, issues } = normaliseTopology(value);
  if (!spec) {
    throw topologyError(issues, file, (issue) => locateInDocument(doc, lineCounter, issue.path, issue.atKey));
  }
  return spec;
}

/** Read and parse a topology file; a missing or unreadable file is XL_ERR_FILE. */
export function loadTopologyFile(path: string): TopologySpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new XlaneError(
      'XL_ERR_FILE',
      `${path}: cannot read topology: ${reason}`,
      { file: path },
      { cause: err },
    );
  }
  return parseTopology(text, path);
}

/** Validate a topology given as a JSON value in the same shape (and units) as the YAML file. */
export function validateTopologySpec(value: unknown, source?: string): TopologySpec {
  const { spec, issues } = normaliseTopology(value);
  if (!spec) throw topologyError(issues, source);
  return spec;
}
