// Plumbing for the native engine's own tests: the addon (or why it is missing), and the kernel's
// view of the engine thread read from /proc.
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import {
  type EngineHandle,
  loadNativeAddon,
  type NativeAddon,
  type NativeStartOptions,
} from '../../src/engine/native/addon.js';
import type { NativeEngine, NativeEngineOptions } from '../../src/engine/native/engine.js';
import { createNativeEngine } from '../../src/engine/native/select.js';
import { SharedBlock } from '../../src/engine/native/shared-block.js';
import { freeUdpPort } from './helpers.js';

export const nativeLoad = loadNativeAddon();
export const skipReason = nativeLoad.ok ? '' : `the native addon is not built: ${nativeLoad.reason}`;

export function nativeEngine(opts?: NativeEngineOptions): NativeEngine {
  const r = createNativeEngine(opts);
  if (!r.engine) throw new Error(r.reason);
  return r.engine;
}

/** The addon's start options for a test that drives it raw: blocking receive, no pinning, no FIFO. */
export const RAW_START_OPTIONS: NativeStartOptions = {
  core: -1,
  fifoPriority: 0,
  lockMemory: false,
  busyPoll: false,
  inlinePoll: false,
  idleSpinNs: 0,
  spinNs: 30_000,
  fifoSliceNs: 900_000,
  fifoBreakNs: 100_000,
};

/** Engines driven through the raw addon (no NativeEngine around them), each receiving on a free
 * loopback port; `cleanup()` (call it in afterEach) stops them and runs what the test added. */
export function rawEngines() {
  const addon = nativeLoad.ok ? nativeLoad.addon : (undefined as unknown as NativeAddon);
  const cleanups: (() => void | Promise<void>)[] = [];
  return {
    addon,
    /** Runs `fn` at cleanup, after what was added later. */
    onCleanup: (fn: () => void | Promise<void>) => cleanups.push(fn),
    async cleanup() {
      for (const f of cleanups.splice(0).reverse()) await f();
    },
    /** A UDP socket on a free loopback port standing in for a peer; closed at cleanup. */
    async peer(onMessage: (m: Buffer) => void): Promise<number> {
      const s = dgram.createSocket('udp4');
      s.on('message', onMessage);
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
      return s.address().port;
    },
    async engine(): Promise<{ h: EngineHandle; block: SharedBlock }> {
      const [h, buffer] = addon.create();
      cleanups.push(() => addon.stop(h));
      const block = new SharedBlock(addon.layout, buffer);
      addon.openReceiver(h, '127.0.0.1', await freeUdpPort());
      addon.start(h, RAW_START_OPTIONS, () => {});
      return { h, block };
    },
  };
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
