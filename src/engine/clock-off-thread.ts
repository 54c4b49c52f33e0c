// measureRealtimeOffset() without blocking the caller's event loop: a short-lived worker waits for the
// ms tick instead (an engine that reads the clock in C needs none of this: Engine.measureRealtimeOffset).
import { XlaneError } from '../errors.js';
import type { RealtimeOffsetMeasurement } from './clock.js';
import { spawnWorkerModule } from './worker-module.js';

const LIMIT_MS = 10_000;

export function measureRealtimeOffsetOffThread(): Promise<RealtimeOffsetMeasurement> {
  return new Promise((resolve, reject) => {
    const worker = spawnWorkerModule(import.meta.url, 'clock-worker');
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new XlaneError('XL_ERR_TIMEOUT', 'realtime offset measurement did not finish'));
    }, LIMIT_MS);
    timer.unref();
    worker.unref();
    worker.once('message', (m: RealtimeOffsetMeasurement) => {
      clearTimeout(timer);
      resolve(m);
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    worker.once('exit', () => {
      clearTimeout(timer);
      reject(new XlaneError('XL_ERR_INTERNAL', 'realtime offset worker exited without a measurement'));
    });
  });
}
