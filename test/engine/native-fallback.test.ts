// Build at install is never fatal, and asking for the native engine without a working addon runs the
// js engine with one warning that says why.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createEngineOfKind } from '../../src/engine/native/select.js';
import { skipReason } from './native-helpers.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

describe('native engine fallback', () => {
  it('runs the js engine, with one warning naming the reason, when the addon is not built', () => {
    const warnings: string[] = [];
    const e = createEngineOfKind('native', {
      addonPath: join(tmpdir(), 'no-such-dir', 'xlane_engine.node'),
      warn: (m) => warnings.push(m),
    });
    expect(e.kind).toBe('js');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/native engine unavailable .*not built.*js engine instead/);
  });

  it('runs the js engine when the file is not a loadable addon', () => {
    const warnings: string[] = [];
    const e = createEngineOfKind('native', {
      addonPath: join(repo, 'package.json'),
      warn: (m) => warnings.push(m),
    });
    expect(e.kind).toBe('js');
    expect(warnings[0]).toMatch(/does not load/);
  });

  it.skipIf(skipReason !== '')('gives the native engine when the addon is built, without a warning', () => {
    const warnings: string[] = [];
    expect(createEngineOfKind('native', { warn: (m) => warnings.push(m) }).kind).toBe('native');
    expect(createEngineOfKind('js', { warn: (m) => warnings.push(m) }).kind).toBe('js');
    expect(warnings).toEqual([]);
  });

  it('the install-time build exits 0 with a single warning line when compiling fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlane-native-build-'));
    try {
      mkdirSync(join(dir, 'scripts'));
      copyFileSync(join(repo, 'scripts/build-native.mjs'), join(dir, 'scripts/build-native.mjs'));
      mkdirSync(join(dir, 'native'));
      writeFileSync(join(dir, 'native/broken.c'), 'this is not C;\n');
      writeFileSync(
        join(dir, 'binding.gyp'),
        JSON.stringify({ targets: [{ target_name: 'xlane_engine', sources: ['native/broken.c'] }] }),
      );
      const r = spawnSync(process.execPath, [join(dir, 'scripts/build-native.mjs')], {
        encoding: 'utf8',
        env: { ...process.env, XLANE_NATIVE_VERBOSE: '0' },
      });
      expect(r.status).toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^xlane: native engine not built \(.*\); the js engine will be used instead\.$/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
