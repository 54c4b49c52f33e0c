import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../src/report/render.js';
import { writeReport } from '../../src/report/write.js';
import { makeRecord } from './fixture.js';

const root = mkdtempSync(join(tmpdir(), 'xlane-report-write-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function runDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'interference.json'), JSON.stringify(makeRecord()));
  return dir;
}

describe('writeReport', () => {
  it('writes report.html and one standalone SVG per figure into the run folder', () => {
    const dir = runDir('plain');
    const r = writeReport(dir);
    expect(r.html).toBe(join(dir, 'report.html'));
    expect(r.svgs.map((f) => f.slice(dir.length + 1))).toEqual([
      'ccdf-l1-h3.svg',
      'ccdf-l2-h3.svg',
      'series-idle.svg',
      'series-express.svg',
      'series-fifo.svg',
    ]);
    expect({ runs: r.runs, lanes: r.lanes }).toEqual({ runs: 3, lanes: 2 });
    const expected = renderReport(makeRecord());
    expect(readFileSync(r.html, 'utf8')).toBe(expected.html);
    const svg = readFileSync(r.svgs[0]!, 'utf8');
    expect(
      svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"'),
    ).toBe(true);
    expect(svg).toContain(expected.figures[0]!.svg);
  });

  it('writes the HTML to --out and the SVGs next to it, creating the folder', () => {
    const dir = runDir('out');
    const out = join(root, 'elsewhere', 'deep', 'page.html');
    const r = writeReport(dir, { out });
    expect(r.html).toBe(out);
    expect(existsSync(out)).toBe(true);
    expect(r.svgs.every((f) => f.startsWith(join(root, 'elsewhere', 'deep')))).toBe(true);
    expect(existsSync(join(dir, 'report.html'))).toBe(false);
  });
});

describe('xlane report (CLI)', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', ...args], {
      encoding: 'utf8',
      timeout: 60_000,
    });

  it('prints where the report is, as JSON with --json', () => {
    const dir = runDir('cli');
    const r = cli([dir, '--json']);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { html: string; svgs: string[] };
    expect(out.html).toBe(join(dir, 'report.html'));
    expect(out.svgs).toHaveLength(5);
    expect(existsSync(out.html)).toBe(true);
  });

  it('exits 1 with the error code for a folder without a record', () => {
    const r = cli([join(root, 'missing')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('xlane: XL_ERR_NOT_FOUND:');
    expect(r.stderr).toContain('interference.json does not exist');
  });
});
