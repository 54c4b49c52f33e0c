// LaneStore on one SQLite file (better-sqlite3, WAL). Each mutation is one transaction, so a
// controller killed mid-way leaves either the old or the new state, never half of one.
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
  let db: Database.Database;
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
  } catch (err) {
    if (err instanceof XlaneError) throw err;
    throw new XlaneError('XL_ERR_STORE', `cannot open the lane store ${path}: ${(err as Error).message}`, {
      file: path,
    });
  }
  return new SqliteStore(db, path);
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
        epoch: Number(meta.get('epoch') ?? 0),
        nextLaneId: Number(meta.get('nextLaneId') ?? 1),
        topology: topology ? JSON.parse(topology) : undefined,
        lanes,
        hosts,
      };
    } catch (err) {
      throw new XlaneError(
        'XL_ERR_STORE',
        `cannot read the lane store ${this.path}: ${(err as Error).message}`,
      );
    }
  }

  apply(mutation: StoreMutation): void {
    try {
      this.tx.immediate(mutation);
    } catch (err) {
      throw new XlaneError('XL_ERR_STORE', `lane store write failed: ${(err as Error).message}`, {
        file: this.path,
      });
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private write(m: StoreMutation): void {
    if (m.epoch !== undefined) this.putMeta.run('epoch', String(m.epoch));
    if (m.nextLaneId !== undefined) this.putMeta.run('nextLaneId', String(m.nextLaneId));
    if (m.topology !== undefined) this.putMeta.run('topology', JSON.stringify(m.topology));
    for (const id of m.deleteLanes ?? []) this.delLane.run(id);
    for (const l of m.putLanes ?? []) {
      this.putLane.run(
        l.id,
        JSON.stringify(l.request),
        JSON.stringify(l.grant),
        l.state,
        l.createdAt,
        JSON.stringify(l.waitFor),
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
      this.putHost.run(h.name, h.registered ? 1 : 0, JSON.stringify(agent), h.version, h.ackedVersion);
    }
  }
}

function toLane(r: LaneRow): StoredLane {
  return {
    id: r.id,
    request: JSON.parse(r.request),
    grant: JSON.parse(r.grant_json),
    state: r.state === 'live' ? 'live' : 'pending',
    createdAt: r.created,
    waitFor: JSON.parse(r.wait_for),
  };
}

function toHost(r: HostRow): HostRecord {
  const agent = JSON.parse(r.agent) as {
    agentVersion?: string;
    engine?: string;
    registeredAt?: string;
    clockDomain?: string;
    bounds?: HostBoundsRecord;
  };
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
  if (agent.bounds !== undefined) h.bounds = agent.bounds;
  return h;
}
