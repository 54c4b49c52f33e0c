// The launcher warns when a checkout's sources changed after its build (bin/stale-build.js).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain-JS launcher module, without type declarations
import { sourceNewerThanBuild } from '../../bin/stale-build.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fake checkout: dist/cli/main.js and src/a/b.ts with the given mtimes (seconds). */
function checkout(o: { built?: number; source?: number }): string {
  const root = mkdtempSync(join(tmpdir(), 'xlane-stale-'));
  dirs.push(root);
  if (o.built !== undefined) {
    mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
    writeFileSync(join(root, 'dist', 'cli', 'main.js'), '');
    utimesSync(join(root, 'dist', 'cli', 'main.js'), o.built, o.built);
  }
  if (o.source !== undefined) {
    mkdirSync(join(root, 'src', 'a'), { recursive: true });
    writeFileSync(join(root, 'src', 'a', 'b.ts'), '');
    utimesSync(join(root, 'src', 'a', 'b.ts'), o.source, o.source);
    writeFileSync(join(root, 'src', 'old.ts'), '');
    utimesSync(join(root, 'src', 'old.ts'), 1_000, 1_000);
  }
  return root;
}

describe('sourceNewerThanBuild', () => {
  it('names the newest source file changed after the build, searching subfolders', () => {
    const root = checkout({ built: 2_000_000, source: 2_000_100 });
    expect(sourceNewerThanBuild(root)).toBe(join(root, 'src', 'a', 'b.ts'));
  });

  it('is null for an up-to-date build, an installed package (no src) and a missing build', () => {
    expect(sourceNewerThanBuild(checkout({ built: 2_000_000, source: 1_999_000 }))).toBeNull();
    expect(sourceNewerThanBuild(checkout({ built: 2_000_000 }))).toBeNull();
    expect(sourceNewerThanBuild(checkout({ source: 2_000_000 }))).toBeNull();
  });

  it('the launcher warns on stderr and still runs the build it has', () => {
    for (const [source, warned] of [
      [2_000_100, true],
      [1_999_000, false],
    ] as const) {
      const root = checkout({ built: 2_000_000, source });
      mkdirSync(join(root, 'bin'));
      for (const f of ['xlane.js', 'stale-build.js'])
        copyFileSync(join(REPO, 'bin', f), join(root, 'bin', f));
      writeFileSync(join(root, 'dist', 'cli', 'main.js'), "console.log('ran');\n");
      utimesSync(join(root, 'dist', 'cli', 'main.js'), 2_000_000, 2_000_000);
      writeFileSync(join(root, 'package.json'), '{"type":"module"}');
      const r = spawnSync(process.execPath, [join(root, 'bin', 'xlane.js')], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toBe('ran\n');
      if (warned) expect(r.stderr).toMatch(/src\/a\/b\.ts changed after the last build: .*npm run build/);
      else expect(r.stderr).toBe('');
    }
  });
});
