import { cpSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { FixtureCommandRunner } from '../../src/tune/command-runner.js';
import { createHostFs, type HostFs } from '../../src/tune/host-fs.js';

export const FIXTURES = join(import.meta.dirname, '../fixtures/tune');
export const MACHINES = ['vm-1node', 'numa2-isolated', 'misconfigured'] as const;

export function fixture(name: string): { fs: HostFs; runner: FixtureCommandRunner; root: string } {
  const root = join(FIXTURES, name);
  return { fs: createHostFs(root), runner: FixtureCommandRunner.fromRoot(root), root };
}

/** A writable copy of a fixture machine in a temp dir. */
export function copyFixture(name: string): { fs: HostFs; runner: FixtureCommandRunner; root: string } {
  const root = mkdtempSync(join(tmpdir(), `xlane-tune-${name}-`));
  cpSync(join(FIXTURES, name), root, { recursive: true });
  return { fs: createHostFs(root), runner: FixtureCommandRunner.fromRoot(root), root };
}

/** Every file under dir with its exact bytes (as base64 so any byte difference shows). */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p).toString('base64');
    }
  };
  walk(dir);
  return out;
}

/** A HostFs whose writes to one path fail like the kernel refusing them. */
export function failingOn(inner: HostFs, path: string, code = 'EINVAL'): HostFs {
  return {
    root: inner.root,
    readFile: (p) => inner.readFile(p),
    readdir: (p) => inner.readdir(p),
    exists: (p) => inner.exists(p),
    writeFile: (p, d) => {
      if (p === path) throw Object.assign(new Error(`${code}: write ${p}`), { code });
      inner.writeFile(p, d);
    },
  };
}
