// LaneStore on one SQLite file (better-sqlite3, WAL). Each mutation is one transaction, so a
// controller killed mid-way leaves either the old or the new state, never half of one.
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

export function openSqliteStore(path: string): LaneStore {
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    // FULL: a grant the controller answered must survive a power loss, and mutations are rare.
    db.pragma('synchronous = FULL');
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
    throw new XlaneError('XL_ERR_STORE', `cannot open the lane store ${path}: ${(err as Error).message}`, {
      file: path,
    });
  }
}

class SqliteStore implements LaneStore {
  private readonly putMeta;
  private readonly putLane;
  private readonly delLane;
  private readonly putHost;
  private readonly delHost;
  private readonly tx;

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
      throw new XlaneError(
        'XL_ERR_STORE',
        `cannot read the lane store ${this.path}: ${(err as Error).message}`,
        { file: this.path },
      );
    }
  }

  apply(mutation: StoreMutation): void {
    try {
      this.tx.immediate(mutation);
    } catch (err) {
      const field = err instanceof XlaneError ? err.details : undefined;
      throw new XlaneError('XL_ERR_STORE', `lane store write failed: ${(err as Error).message}`, {
        file: this.path,
        ...field,
      });
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
const StoredAgent = Type.Object({
  agentVersion: Type.Optional(Str),
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
  if (agent.engine !== undefined) h.engine = agent.engine;
  if (agent.registeredAt !== undefined) h.registeredAt = agent.registeredAt;
  if (agent.clockDomain !== undefined) h.clockDomain = agent.clockDomain;
  if (agent.bounds !== undefined) h.bounds = agent.bounds as HostBoundsRecord;
  return h;
}
