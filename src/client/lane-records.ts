// What an embedded client records of the lanes it opens, so that lanes a process leaves admitted at
// the controller (it was killed, or it closed while the controller did not answer) are released by
// a later embedded start: the daemon's `<socket>.app-lanes` (agent/app-lanes.ts) for processes
// without a daemon. The daemon may take its file over at start because one agent owns a socket. Any
// number of processes may embed, so each client keeps its own file in a shared directory, and a
// start takes over only the files of clients that closed or whose process is gone: no lock is
// needed (Node has no flock), and no process releases a live one's lanes.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { type AppLaneEntry, AppLaneFile, type AppLaneStore } from '../agent/app-lanes.js';
import { readClockDomain } from '../agent/clock-domain.js';
import type { AgentLog } from '../agent/log.js';

/** Who wrote a record: enough to tell, on this machine, whether that process still runs. */
export interface RecordOwner {
  pid: number;
  /** The process's start in clock ticks since boot (/proc/PID/stat): a pid handed out again is not
   * the owner any more. */
  startTime?: string;
  /** The kernel's boot id: a record from an earlier boot has no live owner. */
  bootId?: string;
  /** The PID namespace: in another one (a container sharing the directory) the pid means nothing. */
  pidNs?: string;
  hostname: string;
}

interface LaneRecord {
  host: string;
  controller: string;
  owner: RecordOwner;
  /** The client closed: what it lists was left for the next start, even if its process lives on. */
  closed?: boolean;
  lanes: AppLaneEntry[];
}

const RECORD_NAME = /^lanes-\d+-[0-9a-f]+\.json$/;

/** Persistent, so that lanes left by a machine that crashed are still released after its reboot
 * (a tmpfs such as /run or /tmp would forget them). */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'xlane', 'embedded');
}

export function currentOwner(): RecordOwner {
  const startTime = processStartTime(process.pid);
  const bootId = readClockDomain();
  const pidNs = readLink('/proc/self/ns/pid');
  return {
    pid: process.pid,
    ...(startTime !== undefined ? { startTime } : {}),
    ...(bootId !== undefined ? { bootId } : {}),
    ...(pidNs !== undefined ? { pidNs } : {}),
    hostname: hostname(),
  };
}

/** Whether the writer of a record is certainly gone. When in doubt, no: a lane left admitted costs
 * bandwidth, a live process's lane released under it costs its guarantee. */
export function ownerGone(
  o: RecordOwner,
  me: RecordOwner,
  alive: (pid: number, startTime?: string) => boolean = processAlive,
): boolean {
  // Another machine's record (a directory shared over the network): its processes are not seen here.
  if (o.hostname !== me.hostname) return false;
  if (o.bootId !== undefined && me.bootId !== undefined && o.bootId !== me.bootId) return true;
  if (o.pidNs !== me.pidNs) return false;
  return !alive(o.pid, o.startTime);
}

export function processAlive(pid: number, startTime?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists, as another user's process.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (startTime === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === startTime;
}

/** Field 22 of /proc/PID/stat; the command name (field 2) may hold spaces and parentheses. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** One client's record, `lanes-<pid>-<random>.json` in `dir`. */
export class EmbeddedLaneRecords implements AppLaneStore {
  readonly path: string;
  private readonly file: AppLaneFile;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly scope: { host: string; controller: string },
    private readonly log: AgentLog = warningLog(),
    private readonly owner: RecordOwner = currentOwner(),
  ) {
    this.path = join(dir, `lanes-${owner.pid}-${randomBytes(6).toString('hex')}.json`);
    this.file = new AppLaneFile(this.path, log, () => ({
      host: scope.host,
      controller: scope.controller,
      owner: this.owner,
      ...(this.closed ? { closed: true } : {}),
    }));
  }

  /** Takes over the records of the same host and controller whose client closed or whose process
   * is gone: their lanes move into this client's record (so a crash now still leaves them listed)
   * and the agent releases them. Records of other hosts or controllers wait for a start of theirs. */
  load(): AppLaneEntry[] {
    let names: string[];
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      names = readdirSync(this.dir);
    } catch (err) {
      this.log.warn(
        { path: this.dir, err: (err as Error).message },
        'cannot keep the lane record: lanes this process leaves open if it is killed stay admitted at the controller',
      );
      return [];
    }
    const taken = new Map<string, AppLaneEntry>();
    for (const name of names) {
      const path = join(this.dir, name);
      if (!RECORD_NAME.test(name) || path === this.path) continue;
      const r = readRecord(path);
      if (!r || r.host !== this.scope.host || r.controller !== this.scope.controller) continue;
      if (!r.closed && !ownerGone(r.owner, this.owner)) continue;
      for (const e of r.lanes) {
        taken.set(`${e.id}@${e.createdAt}`, e);
        this.file.add(e);
      }
      unlink(path);
    }
    // Worth a word: it means a process was killed, or closed while the controller was away.
    if (taken.size > 0)
      this.log.warn(
        { lanes: [...taken.values()].map((e) => e.id).join(', ') },
        `releasing lanes that earlier embedded clients for ${this.scope.host} left admitted at the controller`,
      );
    return [...taken.values()];
  }

  add(entry: AppLaneEntry): void {
    this.file.add(entry);
  }

  remove(id: string): void {
    this.file.remove(id);
  }

  removeEntry(entry: AppLaneEntry): void {
    this.file.removeEntry(entry);
  }

  /** A client that leaves nothing leaves no file; one that leaves lanes marks its record closed, so
   * that the next start takes it over even while this process lives on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.file.ids().length === 0) unlink(this.path);
    else this.file.save();
  }
}

function readRecord(path: string): LaneRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as Partial<LaneRecord>;
    const o = r.owner;
    // A pid that is not positive would make process.kill(pid, 0) probe a process group.
    if (!o || !Number.isInteger(o.pid) || o.pid <= 0 || typeof o.hostname !== 'string') return undefined;
    if (typeof r.host !== 'string' || typeof r.controller !== 'string' || !Array.isArray(r.lanes))
      return undefined;
    const lanes = r.lanes.filter(
      (e): e is AppLaneEntry => typeof e?.id === 'string' && typeof e?.createdAt === 'string',
    );
    return { host: r.host, controller: r.controller, owner: o, closed: r.closed === true, lanes };
  } catch {
    // Unreadable (another user's, 0600) or not a record: not this start's to judge.
    return undefined;
  }
}

function unlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Gone already (another start took it over at the same time): nothing left to remove.
  }
}

function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** The embedded agent logs nowhere; what its user must hear of (a record that cannot be kept, lanes
 * a dead process left) takes the library's road, process.emitWarning, each once. */
export function warningLog(): AgentLog {
  const said = new Set<string>();
  const warn = (obj: object, msg: string) => {
    const parts = Object.entries(obj).map(([k, v]) => `${k} ${String(v)}`);
    const text = parts.length > 0 ? `${msg} (${parts.join('; ')})` : msg;
    if (said.has(text)) return;
    said.add(text);
    process.emitWarning(text, { code: 'XL_LANE_RECORD' });
  };
  return { info() {}, warn, error: warn };
}
