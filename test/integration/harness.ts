// The integration test's handles on its real processes: every xlane process and fixture runs
// inside a namespace of a NetnsTestbed (which kills them by PID on destroy), speaks JSON lines on
// stdout, and keeps the tail of its output so a failing wait says what the process was doing.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NetnsTestbed } from '../../src/testbed/netns.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

type Msg = Record<string, unknown>;

export class Proc {
  readonly messages: Msg[] = [];
  private readonly tail: string[] = [];
  private readonly listeners = new Set<() => void>();
  private buf = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => this.data(d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => this.keep(`[stderr] ${d.trimEnd()}`));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.keep(`[exit] code=${code} signal=${signal}`);
        resolve({ code, signal });
        this.wake();
      }),
    );
  }

  static start(tb: NetnsTestbed, ns: string, label: string, argv: string[]): Proc {
    return new Proc(label, tb.spawn(ns, [process.execPath, '--import', 'tsx', ...argv], { cwd: REPO }));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  send(msg: Msg): void {
    this.child.stdin!.write(`${JSON.stringify(msg)}\n`);
  }

  /** The first message (seen so far or to come) that matches. */
  waitFor(pred: (m: Msg) => boolean, what: string, timeoutMs = 20_000): Promise<Msg> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.messages.find(pred);
        if (hit) return done(() => resolve(hit));
        const err = this.messages.find((m) => m.type === 'error');
        if (err) return done(() => reject(this.failure(`${what}: it failed: ${JSON.stringify(err)}`)));
        if (!this.alive) return done(() => reject(this.failure(`${what}: it exited`)));
      };
      const timer = setTimeout(() => done(() => reject(this.failure(`${what}: timed out`))), timeoutMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        f();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Sends a command and waits for the first message of `type` after it. */
  async request(msg: Msg, type: string, timeoutMs = 20_000): Promise<Msg> {
    const from = this.messages.length;
    this.send(msg);
    return this.waitFor(
      (m) => m.type === type && this.messages.indexOf(m) >= from,
      `${type} after ${JSON.stringify(msg)}`,
      timeoutMs,
    );
  }

  /** SIGKILL by PID, and wait for it to be gone. */
  async kill(): Promise<void> {
    if (this.alive && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
    await this.exited;
  }

  failure(what: string): Error {
    return new Error(`${this.label}: ${what}\n--- last output of ${this.label} ---\n${this.tail.join('\n')}`);
  }

  private data(d: string): void {
    this.buf += d;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      this.keep(line);
      try {
        this.messages.push(JSON.parse(line) as Msg);
      } catch {
        // Not JSON: kept in the tail only.
      }
      nl = this.buf.indexOf('\n');
    }
    this.wake();
  }

  private keep(line: string): void {
    this.tail.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    if (this.tail.length > 40) this.tail.shift();
  }

  private wake(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** HTTP requests made from inside a namespace (see fixtures/fetcher.ts). */
export class NsHttp {
  private nextId = 1;

  private constructor(private readonly proc: Proc) {}

  static async start(tb: NetnsTestbed, ns: string, label: string): Promise<NsHttp> {
    const proc = Proc.start(tb, ns, label, [fixture('fetcher.ts')]);
    await proc.waitFor((m) => m.type === 'ready', 'fetcher ready');
    return new NsHttp(proc);
  }

  async request(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ) {
    const id = this.nextId++;
    this.proc.send({ cmd: 'fetch', id, url, ...init });
    const m = await this.proc.waitFor((x) => x.id === id, `${init.method ?? 'GET'} ${url}`);
    if (typeof m.error === 'string') return { status: 0, body: '', error: m.error };
    return { status: m.status as number, body: m.body as string, error: undefined };
  }

  /** GET returning parsed JSON, or undefined when nothing answers (yet). */
  async json<T>(url: string): Promise<T | undefined> {
    const r = await this.request(url);
    return r.status === 200 ? (JSON.parse(r.body) as T) : undefined;
  }
}

/** Polls `probe` until it returns something truthy. */
export async function until<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
) {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(`never happened within ${timeoutMs} ms: ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One sample of a Prometheus text exposition, e.g. metric(text, 'xlane_engine_dropped_total', {reason: 'short'}). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!] as const),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}
