// The tune record is written as root through a temporary file of a predictable name, `.<pid>.tmp`
// beside it. Whatever is already at that name, a symlink planted to make root write elsewhere
// above all, must be neither followed nor truncated: the write fails and says why.
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyTuning } from '../../src/tune/apply.js';
import { writeFileAtomic } from '../../src/tune/host-fs.js';
import { defaultStateFile } from '../../src/tune/tune-state.js';
import { copyFixture, snapshot } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'xlane-write-atomic-'));
  dirs.push(d);
  return d;
}

const tmpName = (file: string) => join(dirname(file), `.${process.pid}.tmp`);

describe('writeFileAtomic', () => {
  it('writes the file 0600 in a directory it makes 0700, and leaves no temporary file', () => {
    const file = join(tempDir(), 'a/b/record.json');
    writeFileAtomic(file, 'one');
    writeFileAtomic(file, 'two');
    expect(readFileSync(file, 'utf8')).toBe('two');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
    expect(readdirSync(dirname(file))).toEqual(['record.json']);
  });

  it('does not follow a symlink planted at the temporary name', () => {
    const dir = tempDir();
    const file = join(dir, 'record.json');
    const target = join(dir, 'target');
    writeFileSync(target, 'precious\n');
    symlinkSync(target, tmpName(file));
    expect(() => writeFileAtomic(file, 'evil')).toThrow(
      expect.objectContaining({
        code: 'EEXIST',
        message: expect.stringContaining(`${tmpName(file)} already exists`),
      }),
    );
    expect(readFileSync(target, 'utf8')).toBe('precious\n');
    // Nothing was renamed over the record either: the symlink is still where it was planted.
    expect(existsSync(file)).toBe(false);
    expect(lstatSync(tmpName(file)).isSymbolicLink()).toBe(true);
  });

  it('does not create the file a dangling symlink points to', () => {
    const dir = tempDir();
    const file = join(dir, 'record.json');
    const target = join(dir, 'created-by-root');
    symlinkSync(target, tmpName(file));
    expect(() => writeFileAtomic(file, 'evil')).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(existsSync(target)).toBe(false);
  });

  it('fails on a file already at the temporary name, without touching it', () => {
    const dir = tempDir();
    const file = join(dir, 'record.json');
    writeFileSync(tmpName(file), 'leftover');
    expect(() => writeFileAtomic(file, 'new')).toThrow(/already exists/);
    expect(readFileSync(tmpName(file), 'utf8')).toBe('leftover');
  });

  it('apply with a planted symlink fails before its first change (XL_ERR_FILE)', () => {
    const { fs, runner, root } = copyFixture('misconfigured');
    dirs.push(root);
    const file = defaultStateFile(root);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const victim = join(root, 'proc/sys/kernel/nmi_watchdog');
    symlinkSync(victim, tmpName(file));
    const before = snapshot(root);
    expect(() => applyTuning(fs, runner, { stopIrqbalance: true })).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_FILE',
        message: expect.stringContaining(`cannot write tune state ${file}: temporary file`),
      }),
    );
    expect(snapshot(root)).toEqual(before);
    expect(runner.ran.filter((l) => /ethtool -C|systemctl/.test(l))).toEqual([]);
  });
});
