// `xlane demo` where the proving ground cannot run: the probe is injected, so the fallback is
// exercised on any machine (root included) through the real command, options and output.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../src/cli/commands/demo.js';

describe('xlane demo without the proving ground', () => {
  const envTmp = process.env.TMPDIR;
  afterEach(() => {
    vi.restoreAllMocks();
    if (envTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = envTmp;
  });

  it('says what is missing and what it cannot show, then runs the controller and a loopback lane', async () => {
    // The demo's temporary state goes here, so the test can see it is removed.
    const tmp = mkdtempSync(join(tmpdir(), 'xlane-demo-fallback-'));
    process.env.TMPDIR = tmp;
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
    const program = new Command('xlane').exitOverride();
    register(program, { probe: () => ({ ok: false, missing: ['root (test)', 'iperf3 (test)'] }) });
    try {
      await program.parseAsync(['node', 'xlane', 'demo', '--listen', '127.0.0.1:0']);
      const out = lines.join('\n');
      expect(out).toMatch(/The proving ground needs root \(test\); iperf3 \(test\)\./);
      expect(out).toMatch(/cannot build the network in namespaces/);
      expect(out).toMatch(/show what the express class buys/);
      // The controller part: five admitted, the greedy one refused naming the bottleneck.
      expect(out.match(/^ {2}admitted /gm)).toHaveLength(5);
      expect(out).toMatch(
        /refused {2}greedy-h2-h3: h2 → h3\n {11}XL_ERR_ADMISSION_REJECTED: no room on s1→h3/,
      );
      // The loopback part ran to its end.
      expect(out).toMatch(/Running hb-h1-h3 .* on 127\.0\.0\.1 for 3 s/);
      expect(out).toMatch(/\d+ frames, one-way p50 [\d.]+ µs/);
      expect(out).toMatch(/Run as root for the real comparison\./);
      // (tsx keeps its own cache there too.)
      expect(readdirSync(tmp).filter((f) => f.startsWith('xlane-demo-'))).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
