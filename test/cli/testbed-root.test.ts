// Every `xlane testbed` command needs root (docs/testbed.md). `status` and `traffic` must say so
// themselves rather than fail later inside tc or `ip netns exec` with a bare kernel error.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../src/cli/commands/testbed.js';

async function runAsUser(args: string[]): Promise<unknown> {
  vi.spyOn(process, 'getuid').mockReturnValue(1000);
  const program = new Command('xlane').exitOverride();
  register(program);
  try {
    await program.parseAsync(['node', 'xlane', 'testbed', ...args]);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('xlane testbed without root', () => {
  // Empty: were the root check not first, these would fail with XL_ERR_NOT_FOUND instead.
  const runsDir = mkdtempSync(join(tmpdir(), 'xlane-testbed-root-'));
  afterEach(() => {
    vi.restoreAllMocks();
  });
  afterAll(() => rmSync(runsDir, { recursive: true, force: true }));

  it.each([
    ['traffic', ['traffic', '--from', 'h1', '--to', 'h2', '--seconds', '1']],
    ['status', ['status']],
  ])('%s refuses with XL_ERR_NOT_ROOT', async (_, args) => {
    const err = await runAsUser([...args, '--runs-dir', runsDir]);
    expect(err).toMatchObject({ code: 'XL_ERR_NOT_ROOT', message: expect.stringMatching(/run as root/) });
  });
});
