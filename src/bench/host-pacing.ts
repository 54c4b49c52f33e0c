// Pacing error of a 100 µs periodic sender on the lane core: how late each send happens versus its
// deadline. The engine of a later issue plugs in as another PacingProbe.
import { spawn } from 'node:child_process';
import { XlaneError } from '../errors.js';
import type { LatencySummary } from './host-cyclictest.js';

export interface PacingProbe {
  readonly name: string;
  /** Runs `seconds` of 100 µs periods pinned to `core`; returns actual − deadline in µs. */
  measure(core: number, seconds: number): Promise<LatencySummary>;
}

export const PERIOD_US = 100;
export const SPIN_US = 30;

// Runs in a child process (`node -e`) so it can be pinned with taskset (a worker thread cannot be)
// and so it works the same from tsx and from the compiled dist. performance.now() returns a plain
// double: unlike hrtime.bigint() it allocates nothing, so the loop never triggers GC. The sleep
// ends SPIN_US early and the rest is spun, because a timed wait ends up to the timer slack late;
// the slack is also set to 1 ns, as the engine does for its own thread.
const PACER_SOURCE = `
const { writeFileSync } = require('node:fs');
const { performance } = require('node:perf_hooks');
try { writeFileSync('/proc/self/timerslack_ns', '1'); } catch {}
const n = Number(process.argv[1]), periodMs = Number(process.argv[2]) / 1000, spinMs = Number(process.argv[3]) / 1000;
const errs = new Float64Array(n);
const cell = new Int32Array(new SharedArrayBuffer(4));
let deadline = performance.now() + 10;
let served = 0;
while (served < n) {
  const sleep = deadline - spinMs - performance.now();
  if (sleep > 0) Atomics.wait(cell, 0, 0, sleep);
  let t = performance.now();
  while (t < deadline) t = performance.now();
  errs[served++] = (t - deadline) * 1000;
  deadline += periodMs;
  // A stall longer than a period skips the missed slots instead of sending a burst to catch up.
  while (deadline < t) deadline += periodMs;
}
errs.sort();
const at = (p) => errs[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
const r = (v) => Math.round(v * 1000) / 1000;
process.stdout.write(JSON.stringify({ p50: r(at(50)), p99: r(at(99)), max: r(errs[n - 1]) }));
`;

export class ChildPacingProbe implements PacingProbe {
  readonly name = 'node-child-spin';

  measure(core: number, seconds: number): Promise<LatencySummary> {
    const n = Math.max(1, Math.round((seconds * 1e6) / PERIOD_US));
    const argv = [
      '-c',
      String(core),
      process.execPath,
      '-e',
      PACER_SOURCE,
      String(n),
      String(PERIOD_US),
      String(SPIN_US),
    ];
    return new Promise((resolve, reject) => {
      const child = spawn('taskset', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('error', (e) =>
        reject(new XlaneError('XL_ERR_NOT_FOUND', `cannot run taskset: ${e.message}`)),
      );
      child.on('close', (code) => {
        if (code !== 0) {
          reject(new XlaneError('XL_ERR_INTERNAL', `pacing probe exited ${code}: ${stderr.trim()}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as LatencySummary);
        } catch {
          reject(
            new XlaneError('XL_ERR_INTERNAL', `pacing probe printed no result: ${stdout.slice(0, 200)}`),
          );
        }
      });
    });
  }
}
