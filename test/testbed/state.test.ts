// The testbed state folder: down removes the state file, and the folder only when nothing else
// (logs, a database) is in it.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeState, runDirOf, STATE_FILE } from '../../src/testbed/state.js';

describe('removeState', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  function runsDir(): string {
    const d = mkdtempSync(join(tmpdir(), 'xlane-state-'));
    dirs.push(d);
    return d;
  }

  it('removes the folder of a testbed that left nothing but its state', () => {
    const runs = runsDir();
    const dir = runDirOf(runs, 'xif-1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, STATE_FILE), '{}');
    removeState(runs, 'xif-1');
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(runs)).toBe(true);
  });

  it('keeps the folder, and what is in it, when there is more than the state', () => {
    const runs = runsDir();
    const dir = runDirOf(runs, 'testbed-3');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, STATE_FILE), '{}');
    writeFileSync(join(dir, 'controller.log'), 'x');
    removeState(runs, 'testbed-3');
    expect(existsSync(join(dir, STATE_FILE))).toBe(false);
    expect(existsSync(join(dir, 'controller.log'))).toBe(true);
  });

  it('does nothing to a testbed that has no folder', () => {
    expect(() => removeState(runsDir(), 'never-up')).not.toThrow();
  });
});
