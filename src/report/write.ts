// `xlane report`'s I/O: read RUN_DIR/interference.json, write report.html and one .svg per figure
// next to it (RUN_DIR by default; the folder of --out otherwise).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { XlaneError } from '../errors.js';
import { loadRecord } from './load.js';
import { renderReport } from './render.js';

export const REPORT_FILE = 'report.html';

export interface WriteReportOptions {
  /** Where the HTML goes (default RUN_DIR/report.html); the SVG files go to the same folder. */
  out?: string;
}

export interface WrittenReport {
  runDir: string;
  html: string;
  svgs: string[];
  runs: number;
  lanes: number;
}

function write(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (err) {
    throw new XlaneError('XL_ERR_FILE', `cannot write ${file}: ${(err as Error).message}`, { file });
  }
}

export function writeReport(runDir: string, opts: WriteReportOptions = {}): WrittenReport {
  const record = loadRecord(runDir);
  const rendered = renderReport(record);
  const html = resolve(opts.out ?? join(runDir, REPORT_FILE));
  const folder = dirname(html);
  try {
    mkdirSync(folder, { recursive: true });
  } catch (err) {
    throw new XlaneError('XL_ERR_FILE', `cannot create ${folder}: ${(err as Error).message}`, {
      file: folder,
    });
  }
  const svgs = rendered.figures.map((f) => {
    const file = join(folder, f.file);
    write(file, `<?xml version="1.0" encoding="UTF-8"?>\n${f.svg}\n`);
    return file;
  });
  write(html, rendered.html);
  return {
    runDir: resolve(runDir),
    html,
    svgs,
    runs: record.runs.length,
    lanes: new Set(record.runs.flatMap((r) => r.lanes.map((l) => `${l.lane}→${l.to}`))).size,
  };
}
