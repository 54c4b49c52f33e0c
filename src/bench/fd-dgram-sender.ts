// The peer's handle on its plain-dgram heartbeat worker (fd-dgram-worker.ts): start with an
// incarnation, read how many heartbeats it sent and how many boundaries it missed, stop.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** Int32 slots of the shared control block. */
export const DGRAM_CTL = { stop: 0, sent: 1, missed: 2 } as const;

export interface DgramWorkerData {
  bindAddress: string;
  targets: { address: string; port: number }[];
  periodNs: number;
  incarnation: number;
  maxSeconds: number;
  ctl: SharedArrayBuffer;
}

export class DgramHeartbeats {
  private readonly ctl: Int32Array;
  private readonly worker: Worker;
  private readCounts = { sent: 0, missed: 0 };

  constructor(data: Omit<DgramWorkerData, 'ctl'>) {
    const sab = new SharedArrayBuffer(4 * 4);
    this.ctl = new Int32Array(sab);
    this.worker = spawnWorker({ ...data, ctl: sab });
    this.worker.on('error', () => {}); // a failed baseline sender shows as silence at the receivers
    this.worker.unref();
  }

  /** Heartbeat rounds sent and boundaries missed since the last call. */
  take(): { sent: number; missed: number } {
    const sent = Atomics.load(this.ctl, DGRAM_CTL.sent);
    const missed = Atomics.load(this.ctl, DGRAM_CTL.missed);
    const d = { sent: sent - this.readCounts.sent, missed: missed - this.readCounts.missed };
    this.readCounts = { sent, missed };
    return d;
  }

  async stop(): Promise<void> {
    Atomics.store(this.ctl, DGRAM_CTL.stop, 1);
    Atomics.notify(this.ctl, DGRAM_CTL.stop);
    await this.worker.terminate();
  }
}

/** Built code runs dist/bench/fd-dgram-worker.js; from the sources the worker registers tsx first. */
function spawnWorker(workerData: DgramWorkerData): Worker {
  const js = new URL('./fd-dgram-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData });
  const ts = new URL('./fd-dgram-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(boot, { eval: true, workerData });
}
