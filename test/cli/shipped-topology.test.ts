// `xlane demo` and the benches default to the shipped examples/testbed-3.yaml; the README runs the
// demo from anywhere, so the default must not depend on the working directory.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultFdBenchOptions } from '../../src/bench/fd.js';
import { defaultInterferenceOptions } from '../../src/bench/interference.js';
import { loadTopologyFile } from '../../src/topology/load.js';

describe('the default topology of the demo and the benches', () => {
  const cwd = process.cwd();
  const dirs: string[] = [];
  afterEach(() => {
    process.chdir(cwd);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('is the shipped example wherever the command runs', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'xlane-cwd-'));
    dirs.push(elsewhere);
    process.chdir(elsewhere);
    for (const file of [defaultInterferenceOptions().topologyFile, defaultFdBenchOptions().topologyFile]) {
      expect(isAbsolute(file)).toBe(true);
      expect(existsSync(file)).toBe(true);
      expect(loadTopologyFile(file).hosts.map((h) => h.name)).toEqual(['h1', 'h2', 'h3']);
    }
  });
});
