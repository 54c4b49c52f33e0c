// `xlane … | head`: the reader leaves after its first line. The command's work is done or harmless
// to stop; a write to the closed pipe must end it quietly, not with an EPIPE stack trace and exit 1.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

it('a command whose reader closed the pipe exits 0 without a stack trace', async () => {
  // `tune check` only reads the host, and prints many lines, one write each.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'tune', 'check'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  expect(stderr).not.toMatch(/EPIPE|Error|\n\s+at /);
  expect(code).toBe(0);
}, 60_000);
