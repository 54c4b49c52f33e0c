// Network-namespace plumbing for integration tests and the testbed: a set of host namespaces on a
// Linux bridge inside a "switch" namespace, joined by veth cables, addressed in 10.77.<run>.0/24.
// Everything is created with `ip -n <ns>` so nothing, not even a temporary interface, touches the
// root namespace. Names carry a per-run prefix `xlt-<pid>-<n>`, so a sweep can recognise (and
// remove) what an earlier, crashed run of this code left, and never anything else.
import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { XlaneError } from '../errors.js';

export const NETNS_PREFIX = 'xlt';
const OWN = /^xlt-(\d+)-(\d+)-/;

export interface NsHost {
  name: string;
  /** Namespace name (for `ip netns exec`). */
  ns: string;
  /** The host's address on the bridge, and its interface inside its namespace. */
  address: string;
  ifname: string;
}

export interface NetnsOptions {
  /** Host names; each gets a namespace, one veth cable to the bridge and the next address. */
  hosts: string[];
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

let counter = 0;
const live = new Set<NetnsTestbed>();
let exitHookInstalled = false;

export class NetnsTestbed {
  readonly prefix: string;
  /** Third octet of the run's subnet 10.77.<run>.0/24. */
  readonly run: number;
  readonly switchNs: string;
  readonly hosts: NsHost[] = [];
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  private constructor() {
    const n = counter++;
    this.prefix = `${NETNS_PREFIX}-${process.pid}-${n}`;
    this.run = ((process.pid * 7 + n) % 254) + 1;
    this.switchNs = `${this.prefix}-sw`;
  }

  /** Builds the namespaces; on any failure, removes what it built and throws XL_ERR_KERNEL. */
  static create(opts: NetnsOptions): NetnsTestbed {
    requireRoot();
    if (opts.hosts.length < 1 || opts.hosts.length > 200) {
      throw new XlaneError('XL_ERR_VALIDATION', 'a netns testbed needs 1..200 hosts');
    }
    for (const h of opts.hosts) {
      if (!/^[A-Za-z0-9_]{1,16}$/.test(h)) {
        throw new XlaneError(
          'XL_ERR_VALIDATION',
          `host name ${JSON.stringify(h)} must be 1..16 of [A-Za-z0-9_]`,
        );
      }
    }
    installExitHook();
    const tb = new NetnsTestbed();
    live.add(tb);
    try {
      tb.build(opts.hosts);
    } catch (err) {
      tb.destroy();
      throw err;
    }
    return tb;
  }

  host(name: string): NsHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new XlaneError('XL_ERR_UNKNOWN_HOST', `no host ${name} in testbed ${this.prefix}`);
    return h;
  }

  /** Runs a command in a namespace and waits for it (never throws on a non-zero exit). */
  exec(ns: string, argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    return new Promise((resolve) => {
      const child = execFile(
        'ip',
        ['netns', 'exec', ns, ...argv],
        { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20 },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
    });
  }

  /** Starts a long-running process in a namespace; it is killed (by PID) on destroy(). */
  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new XlaneError('XL_ERR_INTERNAL', `testbed ${this.prefix} is destroyed`);
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'pipe', ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills the processes it started, then deletes every namespace (which removes the veths and
   * the bridge with them). Synchronous so it also works from an 'exit' handler. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const c of this.children) {
      // A process still inside a namespace would keep it alive after `ip netns del`.
      if (c.pid !== undefined && c.exitCode === null) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {}
      }
    }
    this.children.clear();
    for (const ns of [...this.namespaces].reverse()) deleteNamespace(ns);
    this.namespaces.length = 0;
    live.delete(this);
  }

  private build(hosts: string[]): void {
    this.addNamespace(this.switchNs);
    ip(['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
    ip(['-n', this.switchNs, 'link', 'set', 'lo', 'up']);
    hosts.forEach((name, i) => {
      const ns = `${this.prefix}-${name}`;
      this.addNamespace(ns);
      const port = `p${i}`;
      ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', this.switchNs]);
      ip(['-n', this.switchNs, 'link', 'set', port, 'master', 'br0']);
      ip(['-n', this.switchNs, 'link', 'set', port, 'up']);
      const address = `10.77.${this.run}.${i + 1}`;
      ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      this.hosts.push({ name, ns, address, ifname: 'eth0' });
    });
  }

  private addNamespace(ns: string): void {
    ip(['netns', 'add', ns]);
    this.namespaces.push(ns);
  }
}

/** Namespaces of this code whose creating process is gone (crashed runs); removes them. */
export function sweepStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const m = OWN.exec(ns);
    if (!m || pidAlive(Number(m[1]))) continue;
    deleteNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

export function listNamespaces(): string[] {
  const out = execFileSync('ip', ['-j', 'netns', 'list'], { encoding: 'utf8' }).trim();
  if (!out) return [];
  return (JSON.parse(out) as { name: string }[]).map((x) => x.name);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function requireRoot(): void {
  if (!isRoot()) {
    throw new XlaneError('XL_ERR_KERNEL', 'network namespaces need root (CAP_SYS_ADMIN and CAP_NET_ADMIN)');
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function deleteNamespace(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // Already gone.
  }
}

function ip(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new XlaneError(
      'XL_ERR_KERNEL',
      `ip ${args.join(' ')} failed: ${stderr || (err as Error).message}`,
      {
        args,
      },
    );
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const tb of [...live]) tb.destroy();
  });
  // Signals skip 'exit' unless handled: turn them into an exit (with the conventional code)
  // — only when nobody else handles them, so a host application keeps its own behaviour.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    if (process.listenerCount(sig) === 0) {
      process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)));
    }
  }
}
