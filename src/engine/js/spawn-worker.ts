// Starts the pacing worker. Built code runs dist/engine/js/pacer-worker.js directly; from the
// TypeScript sources (tests, `npm run xlane`) the worker has no loader of its own, so it registers
// tsx first — the same loader the parent runs under.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function spawnPacerWorker(opts: WorkerOptions): Worker {
  const js = new URL('./pacer-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, opts);
  const ts = new URL('./pacer-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(boot, { ...opts, eval: true });
}
