// Entry point of the pacing worker thread (see pacer.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { Pacer } from './pacer.js';
import type { PacerWorkerData, WorkerNotice } from './shared.js';

const data = workerData as PacerWorkerData;
const pacer = new Pacer(data.shared, data.bindAddress, data.control, (n: WorkerNotice) =>
  parentPort?.postMessage(n),
);
pacer.run();
// Sockets close asynchronously; the thread exits once their handles are gone.
data.control.close();
