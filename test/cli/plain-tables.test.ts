// Tables go to pipes and files as often as to terminals: no ANSI colour escapes in any of them (cli-
// table3 colours head and borders unless told not to).
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { interferenceTable } from '../../src/cli/interference-view.js';
import { buildProgram } from '../../src/cli/program.js';
import { EXAMPLE_TOPOLOGY } from '../../src/demo/controller-demo.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// The colour switch cli-table3 reads (the same module instance: required from cli-table3's place).
// Its default depends on the environment (off where CI is set, on in a terminal, even for a pipe),
// so the tests turn it on: a table that is not plain then shows it anywhere.
const colors = createRequire(import.meta.url)('@colors/colors/safe') as { enabled: boolean };
const ESC = '\x1b[';

/** What a command prints on stdout, run in this process. */
async function output(args: string[]): Promise<string> {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.map(String).join(' '));
  });
  await buildProgram().parseAsync(['node', 'xlane', ...args]);
  return lines.join('\n');
}

describe('tables without colour', () => {
  const wasEnabled = colors.enabled;
  beforeAll(() => {
    colors.enabled = true;
  });
  afterAll(() => {
    colors.enabled = wasEnabled;
  });
  afterEach(() => vi.restoreAllMocks());

  it('cli-table3 colours by default here, so the checks below can fail', () => {
    const t = new Table({ head: ['a'] });
    t.push(['1']);
    expect(t.toString()).toContain(ESC);
  });

  it('topology check and tune check print plain tables', async () => {
    const topology = await output(['topology', 'check', EXAMPLE_TOPOLOGY]);
    expect(topology).toMatch(/│ hosts +│ 3 +│/);
    expect(topology).not.toContain(ESC);
    const tune = await output(['tune', 'check', '--root', join(REPO, 'test/fixtures/tune/vm-1node')]);
    expect(tune).toMatch(/│ id +│ status +│/);
    expect(tune).not.toContain(ESC);
  });

  it('the interference / demo closing table is plain', () => {
    const lane = {
      lane: 'L1',
      name: 'hb',
      boundUs: 100,
      p50Us: 20,
      p99Us: 30,
      p999Us: 40,
      maxUs: 50,
      withinBound: 1,
      messages: 10,
      lost: 0,
      tightness: 2,
    };
    const t = interferenceTable({ runs: [{ mode: 'express', bulkMbps: 900, lanes: [lane] }] });
    expect(t).toMatch(/│ express │ 900 +│ hb \(L1\)/);
    expect(t).not.toContain(ESC);
  });

  it('no command builds a cli-table3 table of its own (plainTable does)', () => {
    const dir = join(REPO, 'src/cli');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const users = files.filter((f) => readFileSync(join(dir, f), 'utf8').includes("from 'cli-table3'"));
    expect(users).toEqual(['plain-table.ts']);
  });
});
