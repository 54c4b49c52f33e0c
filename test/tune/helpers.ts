import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { BOOT_ID_PATH } from '../../src/agent/clock-domain.js';
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

/** Two boots of a fake host (/proc/sys/kernel/random/boot_id under its root). */
export const BOOT_A = '11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
export const BOOT_B = '22222222-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

export function setBootId(root: string, id: string): void {
  const file = join(root, BOOT_ID_PATH);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${id}\n`);
}
