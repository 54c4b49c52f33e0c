// Entry point of the pacing worker thread (see pacer.ts).
import { readlinkSync, writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Pacer } from './pacer.js';
import { C_TID, type PacerWorkerData, type WorkerNotice } from './shared.js';

// Linux lets a sleep end up to the thread's timer slack (50 µs by default) late, which is more
// than the 30 µs spin margin a learned one starts from. Only /proc/<tid>/ exposes timerslack_ns, and
// /proc/thread-self names this (the pacing) thread's tid. Best effort: without it pacing is coarser.
const data = workerData as PacerWorkerData;
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  // Published for the main thread, which may give this thread a real-time policy (realtime.ts).
  if (Number.isInteger(tid)) new Int32Array(data.shared.control)[C_TID] = tid;
  writeFileSync(`/proc/${tid}/timerslack_ns`, '1');
} catch {}

const pacer = new Pacer(
  data.shared,
  data.bindAddress,
  data.control,
  (n: WorkerNotice) => parentPort?.postMessage(n),
  data.spin,
);

/** Two turns of the event loop between runs: an immediate runs before the loop's close phase, so
 * only the second one comes after the closed sockets' handles were released. */
function runPacer(): void {
  if (pacer.run() === 'settle') {
    setImmediate(() => setImmediate(runPacer));
    return;
  }
  // Sockets close asynchronously; the thread exits once their handles are gone.
  data.control.close();
}
runPacer();
