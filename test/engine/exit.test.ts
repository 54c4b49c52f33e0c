import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { freeUdpPort } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/engine-lifecycle.ts', import.meta.url));

it('close() releases every handle: a process that used the js engine exits by itself', async () => {
  const port = await freeUdpPort();
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, String(port)], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  // A generous liveness bound: a leaked handle keeps the child alive forever, which this catches.
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
    child.on('exit', (c, s) => r([c, s])),
  );
  clearTimeout(killer);
  expect({ code, signal, err }).toEqual({ code: 0, signal: null, err: '' });
  expect(out).toContain('closed after 3 deliveries');
});
