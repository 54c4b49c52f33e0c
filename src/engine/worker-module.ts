// Starts a worker on a module next to the caller. Built code runs the .js file directly; from the
// TypeScript sources (tests, `npm run xlane`) the worker has no loader of its own, so it registers
// tsx first — the same loader the parent runs under.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `name` without extension, resolved against `base` (the caller's import.meta.url). */
export function spawnWorkerModule(base: string, name: string, opts: WorkerOptions = {}): Worker {
  const js = new URL(`./${name}.js`, base);
  if (existsSync(fileURLToPath(js))) return new Worker(js, opts);
  const ts = new URL(`./${name}.ts`, base).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(boot, { ...opts, eval: true });
}
