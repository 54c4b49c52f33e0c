// A service started the way its unit says, for the deploy tests: its pino JSON lines collected,
// waited on by message, and stopped by its PID with SIGTERM as systemd stops it.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface LogLine {
  level?: number;
  msg?: string;
  [key: string]: unknown;
}

export class Service {
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  private output = '';
  private exited: Promise<number | null>;
  private running = true;

  constructor(argv: string[], env: Record<string, string>, cwd: string) {
    // systemd hands a service only its unit's environment, not the caller's.
    this.child = spawn(argv[0]!, argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
      partial += chunk;
      const done = partial.split('\n');
      partial = done.pop()!;
      for (const l of done) {
        try {
          this.lines.push(JSON.parse(l) as LogLine);
        } catch {
          // not a log line: kept in output()
        }
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.output += chunk;
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        this.running = false;
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Everything it printed so far, for failure messages. */
  text(): string {
    return this.output;
  }

  has(msg: string | RegExp): boolean {
    return this.lines.some(
      (l) => typeof l.msg === 'string' && (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)),
    );
  }

  async waitFor(msg: string, timeoutMs = 30_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find((l) => l.msg === msg);
      if (hit) return hit;
      if (!this.running) throw new Error(`exited before "${msg}":\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`no "${msg}" within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM to its PID, then its exit code (SIGKILL and a throw if it does not go in time). */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (!this.running) return this.exited;
    process.kill(this.pid, 'SIGTERM');
    const timer = new Promise<'late'>((r) => setTimeout(() => r('late'), timeoutMs));
    const got = await Promise.race([this.exited, timer]);
    if (got === 'late') {
      this.kill();
      throw new Error(`did not stop within ${timeoutMs} ms of SIGTERM:\n${this.output}`);
    }
    return got;
  }

  /** Cleanup after a failed test: SIGKILL to its PID if it still runs. */
  kill(): void {
    if (this.running) process.kill(this.pid, 'SIGKILL');
  }

  /** The process's threads as the kernel sees them: id and scheduling policy (1 = SCHED_FIFO). */
  threads(): { tid: number; policy: number }[] {
    const out: { tid: number; policy: number }[] = [];
    for (const tid of readdirTasks(this.pid)) {
      try {
        const stat = readFileSync(`/proc/${this.pid}/task/${tid}/stat`, 'utf8');
        // Fields after "(comm)" start at field 3; the policy is field 41.
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.push({ tid, policy: Number(rest[41 - 3]) });
      } catch {
        // the thread ended meanwhile
      }
    }
    return out;
  }

  /** A field of /proc/PID/status, e.g. VmLck (kB) or CapEff. */
  status(field: string): string {
    const line = readFileSync(`/proc/${this.pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`));
    if (!line) throw new Error(`no ${field} in /proc/${this.pid}/status`);
    return line.slice(field.length + 1).trim();
  }

  cmdline(): string[] {
    return readFileSync(`/proc/${this.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  }
}

function readdirTasks(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}
