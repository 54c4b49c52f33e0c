// The report in a real headless Chromium: it loads with no console message, no exception and no
// browser error, requests nothing but itself, and every figure renders with a size and drawn marks.
// Skipped (with the reason) only when no Chromium binary exists; CI installs Debian's `chromium`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type WrittenReport, writeReport } from '../../src/report/write.js';
import { findChromium, type PageVisit, withChromium } from './chromium.js';
import { makeRecord } from './fixture.js';

const chromium = findChromium();
if (!chromium)
  console.warn('skipping the report browser test: no chromium binary (apt-get install chromium)');

interface Box {
  w: number;
  h: number;
}

interface PageFacts {
  figures: number;
  svgs: (Box & { nested: Box[]; marks: number; drawn: Box })[];
  tables: number;
  bodyText: string;
}

interface SvgFileFacts {
  root: string;
  parserError: boolean;
  size: Box;
  lines: number;
}

// Run in the page: sizes of every top-level svg, of the panels nested in it, and of its drawn curves.
const PAGE_FACTS = `(() => {
  const box = (e) => { const r = e.getBoundingClientRect(); return { w: r.width, h: r.height }; };
  const top = [...document.querySelectorAll('svg')].filter((s) => !s.parentElement.closest('svg'));
  return {
    figures: document.querySelectorAll('figure').length,
    tables: document.querySelectorAll('table').length,
    bodyText: document.body.innerText.slice(0, 2000),
    svgs: top.map((s) => {
      const paths = [...s.querySelectorAll('g[aria-label="line"] path')];
      const drawn = paths.map((p) => p.getBBox()).reduce((a, b) => ({ w: Math.max(a.w, b.width), h: Math.max(a.h, b.height) }), { w: 0, h: 0 });
      return { ...box(s), nested: [...s.querySelectorAll(':scope > svg')].map(box), marks: paths.length, drawn };
    }),
  };
})()`;

const SVG_FILE_FACTS = `(() => {
  const root = document.documentElement;
  const r = root.getBoundingClientRect();
  return {
    root: root.localName,
    parserError: document.getElementsByTagName('parsererror').length > 0,
    size: { w: r.width, h: r.height },
    lines: root.querySelectorAll('g[aria-label="line"] path').length,
  };
})()`;

function problems(visit: PageVisit<unknown>): string[] {
  // The page has no script: any console call or exception is a bug; so is a browser error or warning.
  return visit.events
    .filter((e) => e.source !== 'log' || e.level === 'error' || e.level === 'warning')
    .map((e) => `${e.source}/${e.level}: ${e.text}`);
}

describe.skipIf(!chromium)('report in headless Chromium', () => {
  let dir: string;
  let written: WrittenReport;
  let page: PageVisit<PageFacts>;
  let svgFiles: PageVisit<SvgFileFacts>[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xlane-report-browser-'));
    const run = join(dir, 'run');
    mkdirSync(run);
    const record = makeRecord({ laneNames: ['<script>alert(1)</script>', 'raft & co'] });
    writeFileSync(join(run, 'interference.json'), JSON.stringify(record));
    written = writeReport(run);
    await withChromium(chromium!, async (browser) => {
      page = await browser.visit<PageFacts>(pathToFileURL(written.html).href, PAGE_FACTS);
      svgFiles = [];
      for (const f of written.svgs)
        svgFiles.push(await browser.visit<SvgFileFacts>(pathToFileURL(f).href, SVG_FILE_FACTS));
    });
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads with no console message, exception or browser error, requesting only itself', () => {
    expect(problems(page)).toEqual([]);
    expect(page.requests).toEqual([pathToFileURL(written.html).href]);
  });

  it('renders every figure with a size, its panels and its curves', () => {
    expect(page.value.figures).toBe(5);
    expect(page.value.tables).toBe(6); // summary, targets, allocation lanes and ports, host bounds, runs
    expect(page.value.svgs).toHaveLength(5);
    for (const svg of page.value.svgs) {
      expect(svg.w).toBeGreaterThan(300);
      expect(svg.h).toBeGreaterThan(200);
      expect(svg.marks).toBeGreaterThan(0);
      expect(svg.drawn.w).toBeGreaterThan(50);
    }
    // The time series: latency and bulk panels stacked, both visible.
    const series = page.value.svgs.slice(2);
    for (const s of series) {
      expect(s.nested).toHaveLength(2);
      for (const panel of s.nested) expect(panel.w * panel.h).toBeGreaterThan(0);
      expect(s.nested[0]!.h + s.nested[1]!.h).toBeLessThanOrEqual(s.h + 1);
    }
  });

  it('shows the escaped lane name as text, never runs it', () => {
    expect(page.value.bodyText).toContain('<script>alert(1)</script>');
  });

  it('opens every SVG file on its own as valid SVG', () => {
    expect(svgFiles).toHaveLength(5);
    for (const f of svgFiles) {
      expect(problems(f)).toEqual([]);
      expect(f.value).toMatchObject({ root: 'svg', parserError: false });
      expect(f.value.size.w * f.value.size.h).toBeGreaterThan(0);
      expect(f.value.lines).toBeGreaterThan(0);
    }
  });
});
