// LaneStore on one SQLite file (better-sqlite3, WAL). Each mutation is one transaction, so a
// controller killed mid-way leaves either the old or the new state, never half of one. A write the
// file system refuses (full, read-only, failing) is an XL_ERR_STORE that says which and changes
// nothing; docs/operations.md ("The state file under storage faults") has what each one means.
import { accessSync, type BigIntStats, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import Database from 'better-sqlite3';
import { XlaneError } from '../errors.js';
import type { HostBoundsRecord } from './host-bounds.js';
import type { HostRecord, LaneStore, StoredLane, StoreMutation, StoreSnapshot } from './store.js';

const SCHEMA_VERSION = '1';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lanes (
  id TEXT PRIMARY KEY,
  request TEXT NOT NULL,
  grant_json TEXT NOT NULL,
  state TEXT NOT NULL,
  created TEXT NOT NULL,
  wait_for TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS hosts (
  name TEXT PRIMARY KEY,
  registered INTEGER NOT NULL,
  agent TEXT NOT NULL,
  version INTEGER NOT NULL,
  acked_version INTEGER NOT NULL
);
`;

interface LaneRow {
  id: string;
  request: string;
  grant_json: string;
  state: string;
  created: string;
  wait_for: string;
}

interface HostRow {
  name: string;
  registered: number;
  agent: string;
  version: number;
  acked_version: number;
}

/** How long a start waits for the file's lock: only another controller holds it for long. */
const LOCK_WAIT_MS = 1000;

export function openSqliteStore(path: string): LaneStore {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: LOCK_WAIT_MS });
    // Exclusive: the lock is taken at the first access and held until close, so a second
    // controller on the same file is refused at its start instead of granting lanes from its own
    // copy of the state over this one's. It also means no -shm file: the WAL index is in memory.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    // FULL: a grant the controller answered must survive a power loss, and mutations are rare.
    db.pragma('synchronous = FULL');
    // Takes the lock now, and fails now on a file SQLite could open only read-only (it would
    // otherwise start, serve reads and refuse every change).
    db.exec('BEGIN IMMEDIATE; COMMIT');
    db.exec(SCHEMA);
    const v = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema') as
      | { value: string }
      | undefined;
    if (v && v.value !== SCHEMA_VERSION) {
      throw new XlaneError('XL_ERR_STORE', `${path}: unknown store schema version ${v.value}`, {
        file: path,
      });
    }
    if (!v) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
    // Inside the try: a table of the right name but another shape fails here, in prepare().
    return new SqliteStore(db, path);
  } catch (err) {
    db?.close();
    if (err instanceof XlaneError) throw err;
    const { why, sqlite } = explain(err, path);
    throw new XlaneError('XL_ERR_STORE', `cannot open the lane store ${path}: ${why}`, {
      file: path,
      ...(sqlite ? { sqlite } : {}),
    });
  }
}

/** The operator's reading of a SQLite failure, by its code (better-sqlite3 puts it in `code`). */
function explain(err: unknown, path: string): { why: string; sqlite?: string } {
  const message = (err as Error).message;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return { why: message };
  const why = (text: string) => ({ why: `${text} (${code}: ${message})`, sqlite: code });
  if (code === 'SQLITE_FULL') return why('the file system holding it is full');
  // SQLite falls back to reading a file it may not write, and then fails on the lock
  // (SQLITE_IOERR_LOCK) or the first write: say why it could not write.
  const writeFault = ['SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN'].some((c) => code.startsWith(c));
  const denied = writeFault ? notWritable(path) : undefined;
  if (denied === 'EROFS') return why('it is on a read-only file system');
  if (denied !== undefined) return why(`no write permission on it or its directory (${denied})`);
  if (code.startsWith('SQLITE_READONLY')) return why('it is read-only');
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return why(
      `it or its ${path}-wal cannot be opened or created: does the directory exist, and may the controller write there?`,
    );
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return why(
      'another process holds its lock, most likely a controller already running on this --db: one controller per state file',
    );
  }
  if (code.startsWith('SQLITE_IOERR')) return why('the disk or the file system failed');
  return { why: message, sqlite: code };
}

/** Why the controller may not write the file (or create it in its directory), if it may not. */
function notWritable(path: string): string | undefined {
  if (path === '' || path === ':memory:') return undefined;
  try {
    accessSync(existsSync(path) ? path : dirname(path), constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EROFS' || code === 'EACCES' || code === 'EPERM' ? code : undefined;
  }
}

/** Device and inode of a file, or undefined once its name leads nowhere. */
function identity(file: string): string | undefined {
  let st: BigIntStats | undefined;
  try {
    st = statSync(file, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    // Not allowed to look (a directory made unreadable): no evidence that the file moved.
    return 'unknown';
  }
  return st && `${st.dev}:${st.ino}`;
}

class SqliteStore implements LaneStore {
  private readonly putMeta;
  private readonly putLane;
  private readonly delLane;
  private readonly putHost;
  private readonly delHost;
  private readonly tx;
  /** The state file and its WAL as opened: writes stop once a name leads elsewhere. */
  private readonly files: { file: string; id: string }[] = [];

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    this.putMeta = db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    // ON CONFLICT DO UPDATE keeps the rowid, so lanes list in admission order.
    this.putLane = db.prepare(
      `INSERT INTO lanes (id, request, grant_json, state, created, wait_for) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET request = excluded.request, grant_json = excluded.grant_json,
       state = excluded.state, wait_for = excluded.wait_for`,
    );
    this.delLane = db.prepare('DELETE FROM lanes WHERE id = ?');
    this.putHost = db.prepare(
      `INSERT INTO hosts (name, registered, agent, version, acked_version) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET registered = excluded.registered, agent = excluded.agent,
       version = excluded.version, acked_version = excluded.acked_version`,
    );
    this.delHost = db.prepare('DELETE FROM hosts WHERE name = ?');
    this.tx = db.transaction((m: StoreMutation) => this.write(m));
    if (path === '' || path === ':memory:') return;
    for (const file of [path, `${path}-wal`]) {
      const id = identity(file);
      // Gone already: removed by another process between SQLite's open and here.
      if (id === undefined && file === path) this.checkFiles([{ file, id: '' }]);
      if (id !== undefined && id !== 'unknown') this.files.push({ file, id });
    }
  }

  /** Every value is checked for the shape the controller wrote: a file edited by hand (or by a
   * bug) is refused here with what is wrong, before the allocator trips over it. */
  load(): StoreSnapshot {
    try {
      const meta = new Map(
        (this.db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map(
          (r) => [r.key, r.value],
        ),
      );
      const lanes = (this.db.prepare('SELECT * FROM lanes ORDER BY rowid').all() as LaneRow[]).map(toLane);
      const hosts = (this.db.prepare('SELECT * FROM hosts ORDER BY name').all() as HostRow[]).map(toHost);
      const topology = meta.get('topology');
      return {
        epoch: metaInteger(meta, 'epoch', 0, 0),
        nextLaneId: metaInteger(meta, 'nextLaneId', 1, 1),
        topology:
          topology === undefined
            ? undefined
            : checked(StoredTopology, parseJson(topology, 'meta topology'), 'meta topology'),
        lanes,
        hosts,
      };
    } catch (err) {
      const { why, sqlite } = explain(err, this.path);
      throw new XlaneError('XL_ERR_STORE', `cannot read the lane store ${this.path}: ${why}`, {
        file: this.path,
        ...(sqlite ? { sqlite } : {}),
      });
    }
  }

  apply(mutation: StoreMutation): void {
    this.checkFiles();
    try {
      this.tx.immediate(mutation);
    } catch (err) {
      if (err instanceof XlaneError) {
        throw new XlaneError('XL_ERR_STORE', `lane store write failed: ${err.message}`, {
          file: this.path,
          ...err.details,
        });
      }
      const { why, sqlite } = explain(err, this.path);
      throw new XlaneError('XL_ERR_STORE', `cannot write the lane store ${this.path}: ${why}`, {
        file: this.path,
        ...(sqlite ? { sqlite } : {}),
      });
    }
  }

  /** SQLite writes on through the descriptors it holds after its file or the file's directory
   * was removed (or another file moved in under its name): every change from then on would be
   * answered as stored, yet gone at the next start. Refused instead, before the transaction. */
  private checkFiles(files = this.files): void {
    for (const { file, id } of files) {
      const now = identity(file);
      if (now === id || now === 'unknown') continue;
      throw new XlaneError(
        'XL_ERR_STORE',
        `cannot write the lane store ${this.path}: ${file} was ${now === undefined ? 'removed (or its directory)' : 'replaced by another file'} ` +
          'while the controller ran: a change written now would be gone at the next start, so none is ' +
          '(docs/operations.md, "The state file under storage faults", says how to keep the state)',
        { file: this.path, reason: 'moved', movedFile: file },
      );
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private write(m: StoreMutation): void {
    if (m.epoch !== undefined) this.putMeta.run('epoch', String(count(m.epoch, 'epoch')));
    if (m.nextLaneId !== undefined) this.putMeta.run('nextLaneId', String(count(m.nextLaneId, 'nextLaneId')));
    if (m.topology !== undefined) this.putMeta.run('topology', toJson(m.topology, 'topology'));
    for (const id of m.deleteLanes ?? []) this.delLane.run(id);
    for (const l of m.putLanes ?? []) {
      this.putLane.run(
        l.id,
        toJson(l.request, `lane ${l.id} request`),
        toJson(l.grant, `lane ${l.id} grant`),
        l.state,
        l.createdAt,
        toJson(l.waitFor, `lane ${l.id} waitFor`),
      );
    }
    for (const n of m.deleteHosts ?? []) this.delHost.run(n);
    for (const h of m.putHosts ?? []) {
      // The bounds' provenance rides in the same JSON column: no schema change for an optional field.
      const agent = {
        agentVersion: h.agentVersion,
        protocol: h.protocol,
        engine: h.engine,
        registeredAt: h.registeredAt,
        clockDomain: h.clockDomain,
        bounds: h.bounds,
      };
      this.putHost.run(
        h.name,
        h.registered ? 1 : 0,
        toJson(agent, `host ${h.name}`),
        count(h.version, `host ${h.name} version`),
        count(h.ackedVersion, `host ${h.name} ackedVersion`),
      );
    }
  }
}

/** JSON.stringify writes Infinity and NaN as null, which no later load can tell from a real null:
 * such a value is refused, naming where it sits, and the whole transaction is rolled back. */
function toJson(value: unknown, field: string): string {
  const paths = new WeakMap<object, string>();
  return JSON.stringify(value, function (this: object, key: string, v: unknown) {
    const parent = paths.get(this);
    const path =
      parent === undefined ? field : Array.isArray(this) ? `${parent}[${key}]` : `${parent}.${key}`;
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new XlaneError('XL_ERR_STORE', `refusing to store ${v} as ${path}: JSON has no such number`, {
        field: path,
      });
    }
    if (typeof v === 'object' && v !== null) paths.set(v, path);
    return v;
  });
}

function count(n: number, field: string): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new XlaneError('XL_ERR_STORE', `refusing to store ${n} as ${field}: not a non-negative integer`, {
      field,
    });
  }
  return n;
}

// The shapes the controller writes, checked on load. Loose where the allocator checks the
// content anyway (restoreAllocator refuses a grant that no longer holds), strict where a wrong
// type would otherwise surface as a TypeError deep inside it.
const Num = Type.Number();
const Str = Type.String();
const Range = Type.Object({ minNs: Num, maxNs: Num });
const StoredTopology = Type.Object({
  name: Str,
  mtuBytes: Num,
  maxFrameBytes: Num,
  expressDscp: Num,
  expressPort: Num,
  hosts: Type.Array(Type.Object({ name: Str, nicRateBps: Num, send: Range, recv: Range, bufferBytes: Num })),
  switches: Type.Array(Type.Object({ name: Str, forwarding: Range, portBufferBytes: Num })),
  links: Type.Array(Type.Object({ a: Str, b: Str, rateBps: Num, propagationNs: Num, expressShare: Num })),
});
const StoredRequest = Type.Object({
  sender: Str,
  receivers: Type.Array(Str),
  maxPayloadBytes: Num,
  minPeriodNs: Num,
});
const StoredGrant = Type.Object({
  laneId: Str,
  epoch: Num,
  sender: Str,
  maxPayloadBytes: Num,
  minPeriodNs: Num,
  policy: Str,
  dscp: Num,
  priority: Num,
  srcPort: Num,
  dstPort: Num,
  wireBytes: Num,
  rateBps: Num,
  tree: Type.Array(Type.Object({ from: Str, to: Str })),
  receivers: Type.Array(
    Type.Object({ host: Str, path: Type.Array(Str), lambdaMinNs: Num, lambdaMaxNs: Num, jitterNs: Num }),
  ),
});
const Count = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const StoredWaitFor = Type.Record(Str, Count);
/** Open to fields it does not list (as every shape here): a row a newer controller wrote, with
 * more to say of its agent, still loads after a downgrade. Rows written before `protocol` have
 * none and load as they are. */
const StoredAgent = Type.Object({
  agentVersion: Type.Optional(Str),
  protocol: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
  engine: Type.Optional(Str),
  registeredAt: Type.Optional(Str),
  clockDomain: Type.Optional(Str),
  bounds: Type.Optional(
    Type.Object({
      source: Type.Union([Type.Literal('measured'), Type.Literal('set')]),
      at: Str,
      send: Range,
      recv: Range,
      declared: Type.Object({ send: Range, recv: Range }),
    }),
  ),
});

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not JSON (${(err as Error).message})`);
  }
}

function checked<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  const first = Value.Errors(schema, value).First();
  if (first)
    throw new Error(`${what}${first.path ? ` at ${first.path}` : ''}: ${first.message.toLowerCase()}`);
  return value as Static<T>;
}

function metaInteger(meta: Map<string, string>, key: string, min: number, absent: number): number {
  const text = meta.get(key);
  if (text === undefined) return absent;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new Error(`meta ${key} is "${text}", not an integer ≥ ${min}`);
  }
  return n;
}

function toLane(r: LaneRow): StoredLane {
  const what = `lane ${String(r.id)}`;
  if (typeof r.id !== 'string' || r.id === '') throw new Error(`a lane row has no id`);
  if (r.state !== 'live' && r.state !== 'pending') throw new Error(`${what}: unknown state "${r.state}"`);
  if (typeof r.created !== 'string') throw new Error(`${what}: created is not text`);
  const lane: StoredLane = {
    id: r.id,
    request: checked(
      StoredRequest,
      parseJson(r.request, `${what} request`),
      `${what} request`,
    ) as StoredLane['request'],
    grant: checked(
      StoredGrant,
      parseJson(r.grant_json, `${what} grant`),
      `${what} grant`,
    ) as StoredLane['grant'],
    state: r.state,
    createdAt: r.created,
    waitFor: checked(StoredWaitFor, parseJson(r.wait_for, `${what} wait_for`), `${what} wait_for`),
  };
  if (lane.grant.laneId !== lane.id) throw new Error(`${what}: grant is for lane ${lane.grant.laneId}`);
  return lane;
}

function toHost(r: HostRow): HostRecord {
  const what = `host ${String(r.name)}`;
  if (typeof r.name !== 'string' || r.name === '') throw new Error('a host row has no name');
  if (r.registered !== 0 && r.registered !== 1) throw new Error(`${what}: registered is ${r.registered}`);
  for (const [k, v] of [
    ['version', r.version],
    ['acked_version', r.acked_version],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${what}: ${k} is ${v}, not an integer ≥ 0`);
  }
  const agent = checked(StoredAgent, parseJson(r.agent, `${what} agent`), `${what} agent`);
  const h: HostRecord = {
    name: r.name,
    registered: r.registered === 1,
    version: r.version,
    ackedVersion: r.acked_version,
  };
  if (agent.agentVersion !== undefined) h.agentVersion = agent.agentVersion;
  if (agent.protocol !== undefined) h.protocol = agent.protocol;
  if (agent.engine !== undefined) h.engine = agent.engine;
  if (agent.registeredAt !== undefined) h.registeredAt = agent.registeredAt;
  if (agent.clockDomain !== undefined) h.clockDomain = agent.clockDomain;
  if (agent.bounds !== undefined) h.bounds = agent.bounds as HostBoundsRecord;
  return h;
}
