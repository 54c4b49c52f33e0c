// onExitSignal in a real child process: the signal runs the undo and exits with the shell's status;
// once removed, the handlers are gone.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'xlane-exit-'));
const module = new URL('../../src/util/exit-signals.ts', import.meta.url).href;

function child(marker: string, removeFirst: boolean) {
  const code = `
    const { onExitSignal } = await import(${JSON.stringify(module)});
    const { writeFileSync } = await import('node:fs');
    const off = onExitSignal(() => writeFileSync(${JSON.stringify(marker)}, 'undone'));
    if (${removeFirst}) off();
    process.stdout.write('ready\\n');
    setTimeout(() => process.exit(0), 10000);
  `;
  const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = new Promise<void>((r) => p.stdout!.on('data', (d) => String(d).includes('ready') && r()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    p.once('exit', (code, signal) => r({ code, signal })),
  );
  return { p, ready, exited };
}

describe('onExitSignal', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the undo and exits 143 on SIGTERM, 130 on SIGINT, 129 on SIGHUP', {
    timeout: 30_000,
  }, async () => {
    for (const [sig, status] of [
      ['SIGTERM', 143],
      ['SIGINT', 130],
      ['SIGHUP', 129],
    ] as const) {
      const marker = join(dir, sig);
      const c = child(marker, false);
      await c.ready;
      c.p.kill(sig);
      expect((await c.exited).code).toBe(status);
      expect(readFileSync(marker, 'utf8')).toBe('undone');
    }
  });

  it('after removal the signal is not caught and nothing is undone', { timeout: 30_000 }, async () => {
    const marker = join(dir, 'removed');
    const c = child(marker, true);
    await c.ready;
    c.p.kill('SIGTERM');
    expect((await c.exited).signal).toBe('SIGTERM');
    expect(existsSync(marker)).toBe(false);
  });
});
