// The orchestrator's handle on one bench peer process: starts it in a namespace (from the built
// dist when it is there, else from the TypeScript sources through tsx), sends requests, awaits
// replies with a time bound, and reports the peer's stderr when it dies.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type ErrorCode, ErrorCodes, XlaneError } from '../errors.js';
import type { NetnsTestbed } from '../testbed/netns.js';
import type { PeerConfig, PeerReply, PeerRequest } from './engine-peer-protocol.js';

const STDERR_KEEP = 4096;

/** argv (after `ip netns exec NS`) and working directory that run a peer script of this folder
 * (`engine-peer` by default), with `nodeFlags` for node itself. */
export function peerCommand(
  script = 'engine-peer',
  nodeFlags: string[] = [],
): { argv: string[]; cwd: string } {
  const js = new URL(`./${script}.js`, import.meta.url);
  // src/bench/ or dist/bench/ → the package root, where `--import tsx` resolves.
  const cwd = fileURLToPath(new URL('../../', import.meta.url));
  const node = [process.execPath, ...nodeFlags];
  if (existsSync(fileURLToPath(js))) return { argv: [...node, fileURLToPath(js)], cwd };
  const ts = fileURLToPath(new URL(`./${script}.ts`, import.meta.url));
  return { argv: [...node, '--import', 'tsx', ts], cwd };
}

/** Every peer protocol answers with `{op}` objects and reports failures as `{op:'error'}`. */
interface AnyReply {
  op: string;
  code?: string;
  message?: string;
}

/** One JSON-lines peer process: requests on its stdin, replies on its stdout. The type parameters
 * name the protocol (the engine bench's by default). */
export class PeerProcess<Req extends { op: string } = PeerRequest, Rep extends AnyReply = PeerReply> {
  private readonly queue: Rep[] = [];
  private waiter: ((r: Rep | undefined) => void) | undefined;
  private stderr = '';
  private exited = false;
  /** Replies still owed to requests that timed out. The peer answers strictly in order, so the next
   * replies to arrive are theirs: dropped, not taken for a later request's. */
  private owed = 0;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let r: Rep;
      try {
        r = JSON.parse(line) as Rep;
      } catch {
        this.stderr = `${this.stderr}${line}\n`.slice(-STDERR_KEEP);
        return;
      }
      if (this.owed > 0) this.owed--;
      else if (this.waiter) this.waiter(r);
      else this.queue.push(r);
    });
    child.stderr!.on('data', (d) => {
      this.stderr = (this.stderr + String(d)).slice(-STDERR_KEEP);
    });
    child.once('exit', () => {
      this.exited = true;
      this.waiter?.(undefined);
    });
  }

  /** `cpu`: pins the whole peer process (JS thread, libuv and V8 helpers) there with taskset. */
  static async start(
    tb: NetnsTestbed,
    ns: string,
    name: string,
    cfg: PeerConfig,
    cpu?: number,
  ): Promise<PeerProcess> {
    // A peer whose own thread polls shares its CPU with nothing else of its process: V8 compiles
    // and collects garbage on that thread instead of on helper threads pinned beside it.
    const { argv, cwd } = peerCommand('engine-peer', cfg.receive === 'poll' ? ['--single-threaded'] : []);
    const pin = cpu === undefined ? [] : ['taskset', '-c', String(cpu)];
    const child = tb.spawn(ns, [...pin, ...argv, JSON.stringify(cfg)], {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const peer = new PeerProcess(name, child);
    await peer.next('ready', 60_000);
    return peer;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGKILL by PID (the peer's own process: `ip netns exec` execs it). */
  kill(): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, 'SIGKILL');
    } catch {}
  }

  async request<Op extends Req['op']>(
    req: Req & { op: Op },
    timeoutMs: number,
  ): Promise<Extract<Rep, { op: Op }>> {
    if (!this.exited) this.child.stdin!.write(`${JSON.stringify(req)}\n`);
    return (await this.next(req.op, timeoutMs, true)) as Extract<Rep, { op: Op }>;
  }

  /** Waits for a reply the peer sends without a request (e.g. 'ready'). */
  async next(op: string, timeoutMs: number, requested = false): Promise<Rep> {
    const r = this.queue.shift() ?? (this.exited ? undefined : await this.wait(op, timeoutMs, requested));
    if (!r) throw new XlaneError('XL_ERR_INTERNAL', `bench peer ${this.name} exited: ${this.stderr.trim()}`);
    if (r.op === 'error') {
      const code = (r.code ?? '') in ErrorCodes ? (r.code as ErrorCode) : 'XL_ERR_INTERNAL';
      throw new XlaneError(code, `bench peer ${this.name}: ${r.message}`);
    }
    if (r.op !== op)
      throw new XlaneError('XL_ERR_INTERNAL', `bench peer ${this.name} answered '${r.op}' to '${op}'`);
    return r;
  }

  /** The next reply; undefined when the peer exits first. */
  private wait(op: string, timeoutMs: number, requested: boolean): Promise<Rep | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        if (requested) this.owed++;
        resolve({
          op: 'error',
          code: 'XL_ERR_TIMEOUT',
          message: `no '${op}' reply within ${timeoutMs} ms`,
        } as Rep);
      }, timeoutMs);
      this.waiter = (x) => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(x);
      };
    });
  }
}
