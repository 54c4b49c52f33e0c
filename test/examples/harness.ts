// What the example tests share: a real controller on loopback (in this process, testbed-3 with a
// free express port), and the examples run for real as child processes, the way their header
// comments say, with their output kept line by line for the tests to read.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningController, startController } from '../../src/controller/index.js';
import { freeUdpPort } from '../client/free-udp-port.js';
import { REPO, testbed } from '../controller/helpers.js';

export const PEERS = 'h1=127.0.0.1,h2=127.0.0.2';

/** A loaded CI machine starts a tsx child in seconds, not milliseconds: waits are generous, and
 * only a process that hangs (or never says what the test waits for) runs into them. */
export const WAIT_MS = 60_000;

export interface Example {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it printed so far, stdout and stderr, one entry per line. */
  readonly lines: string[];
  /** The first line (already printed or still to come) matching `re`; rejects when the process
   * exits or `ms` pass first. */
  waitFor(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Its exit: code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its output, for a failing assertion to show. */
  output(): string;
}

/** The controllers, processes and directories a test starts, and their removal after it. */
export function exampleHarness() {
  const controllers: RunningController[] = [];
  const examples: Example[] = [];
  const dirs: string[] = [];
  let stateHome: string | undefined;

  return {
    async controller(): Promise<RunningController> {
      const c = await startController({
        topology: { ...testbed(), expressPort: await freeUdpPort() },
        dbPath: ':memory:',
        listen: '127.0.0.1:0',
        logger: false,
      });
      controllers.push(c);
      return c;
    },

    /** `node --import tsx examples/<file> …args`: node itself, so that `pid` is the example's. */
    run(file: string, args: string[]): Example {
      if (!stateHome) {
        // Embedded clients record their lanes here; a SIGKILLed one leaves its record behind.
        stateHome = mkdtempSync(join(tmpdir(), 'xlane-examples-'));
        dirs.push(stateHome);
      }
      const child = spawn(process.execPath, ['--import', 'tsx', `examples/${file}`, ...args], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
        // The examples would take an agent's socket or another controller from these.
        env: {
          ...process.env,
          XDG_STATE_HOME: stateHome,
          XLANE_SOCKET: '',
          XLANE_CONTROLLER: '',
          XLANE_PEERS: '',
        },
      });
      const example = watch(`${file} ${args.join(' ')}`, child);
      examples.push(example);
      return example;
    },

    async cleanup(): Promise<void> {
      for (const e of examples.splice(0)) {
        if (e.child.exitCode === null && e.child.signalCode === null) process.kill(e.pid, 'SIGKILL');
        await e.exited;
      }
      for (const c of controllers.splice(0)) await c.close();
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
      stateHome = undefined;
    },
  };
}

function watch(name: string, child: ChildProcess): Example {
  if (child.pid === undefined) throw new Error(`${name}: did not start`);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const take = (stream: NodeJS.ReadableStream | null) => {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      for (const w of waiters) w();
    });
    stream?.on('end', () => {
      if (partial) lines.push(partial);
      partial = '';
      for (const w of waiters) w();
    });
  };
  take(child.stdout);
  take(child.stderr);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close', not 'exit': by then both pipes are drained, so `lines` holds the whole output.
    child.once('close', (code, signal) => {
      done = true;
      resolve({ code, signal });
      for (const w of waiters) w();
    });
  });
  const output = () => `--- ${name} (pid ${child.pid}) ---\n${lines.join('\n')}`;

  return {
    name,
    child,
    pid: child.pid,
    lines,
    exited,
    output,
    waitFor(re: RegExp, ms = WAIT_MS): Promise<RegExpExecArray> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no line matching ${re} within ${ms} ms`)), ms);
        const check = () => {
          for (const line of lines) {
            const m = re.exec(line);
            if (m) return finish(undefined, m);
          }
          if (done) finish(new Error(`exited without a line matching ${re}`));
        };
        const finish = (err?: Error, m?: RegExpExecArray) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (m) resolve(m);
          else reject(new Error(`${err?.message}\n${output()}`));
        };
        waiters.add(check);
        check();
      });
    },
  };
}
