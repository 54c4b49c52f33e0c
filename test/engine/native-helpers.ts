// Plumbing for the native engine's own tests: the addon (or why it is missing), and the kernel's
// view of the engine thread read from /proc.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadNativeAddon } from '../../src/engine/native/addon.js';
import type { NativeEngine, NativeEngineOptions } from '../../src/engine/native/engine.js';
import { createNativeEngine } from '../../src/engine/native/select.js';
import { freeUdpPort } from './helpers.js';

export const nativeLoad = loadNativeAddon();
export const skipReason = nativeLoad.ok ? '' : `the native addon is not built: ${nativeLoad.reason}`;

export function nativeEngine(opts?: NativeEngineOptions): NativeEngine {
  const r = createNativeEngine(opts);
  if (!r.engine) throw new Error(r.reason);
  return r.engine;
}

export function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

export function taskField(tid: number, name: string): string | undefined {
  const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
  return new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
}

/** The CPU the task last ran on: field 39 of /proc/<pid>/task/<tid>/stat (after the comm). */
export function lastCpu(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field 39 is rest[36].
  return Number(rest[36]);
}

/** CPUs this process may run on (parsed from Cpus_allowed_list, e.g. "0-1,3"). */
export function allowedCpus(): number[] {
  const list = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.*)$/m)?.[1] ?? '';
  const out: number[] = [];
  for (const part of list.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a!; c <= (b ?? a!); c++) out.push(c);
  }
  return out;
}

const hasStallTools = ['taskset', 'chrt'].every((t) => spawnSync('which', [t]).status === 0);

/** Why the CPU-stall tests (a SCHED_FIFO 99 loop on one CPU standing in for a hypervisor that
 * stops that vCPU) cannot run here; '' when they can. */
export function stallSkipReason(cpus: number[]): string {
  return (
    skipReason ||
    (process.getuid?.() !== 0 ? '(needs root for SCHED_FIFO)' : '') ||
    (cpus.length < 2 ? '(needs two CPUs)' : '') ||
    (hasStallTools ? '' : '(needs taskset and chrt)')
  );
}

/** Runs a SCHED_FIFO 99 busy loop on `cpu` for `ms` (it ends by itself); resolves when it exited. */
export function hogCpu(cpu: number, ms: number): Promise<void> {
  const loop = `const end = Date.now() + ${ms}; while (Date.now() < end) {}`;
  const child = spawn('taskset', ['-c', String(cpu), 'chrt', '-f', '99', process.execPath, '-e', loop], {
    stdio: 'ignore',
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}

/** A native engine started on a free loopback port, pinned to `core`; kept in `open` so the
 * test's afterEach closes it. */
export async function startPinned(
  open: NativeEngine[],
  opts: NativeEngineOptions,
  core: number,
): Promise<{ engine: NativeEngine; port: number }> {
  const engine = nativeEngine(opts);
  open.push(engine);
  const port = await freeUdpPort();
  await engine.start({ bindAddress: '127.0.0.1', port, core });
  return { engine, port };
}
