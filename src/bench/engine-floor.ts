// The floor reference of `xlane bench engine` (issue 4): bench/c/udp-pingpong.c, compiled with the
// machine's cc at bench time and run as a server in namespace B and a client in namespace A, pinned
// like the engine peers. It runs in blocks alternated with the engines' blocks, so a burst of load
// from elsewhere on the machine hits the floor and the engines alike; each block's raw samples are
// merged here.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XlaneError } from '../errors.js';
import type { NetnsTestbed } from '../testbed/netns.js';

/** The C source, from src/bench/ or dist/bench/ (both two levels below the package root). */
export function floorSourcePath(): string {
  return fileURLToPath(new URL('../../bench/c/udp-pingpong.c', import.meta.url));
}

/** Compiles the floor reference into a fresh temporary directory; `cleanup()` removes it. */
export function compileFloor(
  source = floorSourcePath(),
  compiler = process.env.CC ?? 'cc',
): { binary: string; cleanup: () => void } {
  if (!existsSync(source))
    throw new XlaneError('XL_ERR_FILE', `the floor reference ${source} is missing`, { file: source });
  // The pid in the name lets a test (or an operator) tell whose binary a running process is.
  const dir = mkdtempSync(join(tmpdir(), `xlane-floor-${process.pid}-`));
  // Also on Ctrl-C: the testbed's signal hook exits the process, which runs 'exit' listeners.
  const onExit = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', onExit);
  const cleanup = () => {
    process.removeListener('exit', onExit);
    onExit();
  };
  const binary = join(dir, 'udp-pingpong');
  try {
    execFileSync(compiler, ['-O2', '-o', binary, source], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    cleanup();
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT')
      throw new XlaneError(
        'XL_ERR_NO_COMPILER',
        `no C compiler "${compiler}" to build the floor reference (install gcc, or set CC)`,
        { compiler },
      );
    throw new XlaneError(
      'XL_ERR_NO_COMPILER',
      `${compiler} could not build the floor reference: ${String(err.stderr ?? err.message)
        .trim()
        .slice(0, 500)}`,
      { compiler, file: source },
    );
  }
  return { binary, cleanup };
}

export interface FloorBlock {
  /** Round-trip times of the block (ns), in the order they were measured. */
  samplesNs: Float64Array;
  /** Pings whose reply did not come within the client's 100 ms. */
  lost: number;
}

/** Parses the client's output with `raw`: one JSON summary line, then one sample (ns) per line. */
export function parseFloorOutput(text: string): FloorBlock {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const bad = (why: string) =>
    new XlaneError('XL_ERR_INTERNAL', `floor reference printed ${why}: ${text.slice(0, 200)}`);
  if (lines.length === 0) throw bad('nothing');
  let head: { n?: unknown; lost?: unknown };
  try {
    head = JSON.parse(lines[0]!) as typeof head;
  } catch {
    throw bad('no JSON summary');
  }
  const n = head.n;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw bad('no sample count');
  if (lines.length - 1 !== n) throw bad(`${lines.length - 1} samples for n = ${n}`);
  const samplesNs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(lines[i + 1]);
    if (!Number.isFinite(v) || v < 0) throw bad(`a bad sample "${lines[i + 1]}"`);
    samplesNs[i] = v;
  }
  return { samplesNs, lost: typeof head.lost === 'number' ? head.lost : 0 };
}

function collect(child: ChildProcess): { out: () => string; exit: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += d));
  child.stderr?.on('data', (d) => (err = (err + String(d)).slice(-2000)));
  // 'close', not 'exit': a process can exit before its stdout has been read to the end, and the
  // raw samples are most of that output (a long block lost its tail that way).
  const exit = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return { out: () => out || err, exit };
}

export interface FloorRunnerOptions {
  binary: string;
  tb: NetnsTestbed;
  client: { ns: string; address: string; cpu: number };
  server: { ns: string; address: string; cpu: number };
  port: number;
  payloadBytes: number;
}

/** Runs the floor in blocks and keeps every sample. The server lives only for its block: a
 * spinning server left between blocks would share the engine peer's CPU with a second busy-poller
 * (docs/machine-facts.md: 16 ms stalls). */
export class FloorRunner {
  samplesNs = new Float64Array(0);
  recorded = 0;
  lost = 0;

  constructor(private readonly o: FloorRunnerOptions) {}

  reserve(capacity: number): void {
    this.samplesNs = new Float64Array(capacity);
    this.recorded = 0;
    this.lost = 0;
  }

  /** One block of `count` recorded round trips after `warmup` unrecorded ones. */
  async runBlock(count: number, warmup: number, timeoutMs: number): Promise<void> {
    const { o } = this;
    const server = o.tb.spawn(o.server.ns, [
      o.binary,
      'server',
      o.server.address,
      String(o.port),
      String(o.server.cpu),
    ]);
    const s = collect(server);
    const timer = setTimeout(() => server.kill('SIGKILL'), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout!.on('data', () => {
          if (s.out().includes('ready')) resolve();
        });
        server.once('exit', () => reject(new XlaneError('XL_ERR_INTERNAL', `floor server: ${s.out()}`)));
      });
      const client = o.tb.spawn(o.client.ns, [
        o.binary,
        'client',
        o.client.address,
        o.server.address,
        String(o.port),
        String(count + warmup),
        String(o.client.cpu),
        String(o.payloadBytes),
        'raw',
      ]);
      const c = collect(client);
      const clientTimer = setTimeout(() => client.kill('SIGKILL'), timeoutMs);
      const code = await c.exit;
      clearTimeout(clientTimer);
      if (code !== 0)
        throw new XlaneError('XL_ERR_INTERNAL', `floor client exited ${code}: ${c.out().slice(0, 300)}`);
      const block = parseFloorOutput(c.out());
      // In the order measured: the first `warmup` are the warm-up (a lost ping has no sample, so
      // a loss during warm-up costs one recorded sample, never adds a cold one).
      for (let i = warmup; i < block.samplesNs.length && this.recorded < this.samplesNs.length; i++)
        this.samplesNs[this.recorded++] = block.samplesNs[i]!;
      this.lost += block.lost;
      await s.exit;
    } finally {
      clearTimeout(timer);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
  }
}
