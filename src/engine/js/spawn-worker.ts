// Starts the pacing worker (pacer-worker.ts), from dist or through tsx (../worker-module.ts).
import type { Worker, WorkerOptions } from 'node:worker_threads';
import { spawnWorkerModule } from '../worker-module.js';

export function spawnPacerWorker(opts: WorkerOptions): Worker {
  return spawnWorkerModule(import.meta.url, 'pacer-worker', opts);
}
