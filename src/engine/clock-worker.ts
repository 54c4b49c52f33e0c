// One JS measurement of CLOCK_REALTIME − CLOCK_MONOTONIC on a thread of its own (clock-off-thread.ts):
// it busy-waits for Date.now()'s next ms, which must not stall the thread that receives lanes.
import { parentPort } from 'node:worker_threads';
import { measureRealtimeOffset } from './clock.js';

parentPort!.postMessage(measureRealtimeOffset());
