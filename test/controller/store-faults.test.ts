// The state file under faults that need no root: its directory removed or the file replaced while
// the controller runs, a second controller on the same file, a WAL that cannot be created, a
// store that fails reads after a failed write, and an agent's ack the store refused.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ControllerClient } from '../../src/client/controller-client.js';
import { openSqliteStore } from '../../src/controller/sqlite-store.js';
import type { LaneStore } from '../../src/controller/store.js';
import { XlaneError } from '../../src/errors.js';
import { lane, makeApp, spawnControllerCli, startTestController, testbed } from './helpers.js';
import { TestWatch } from './watch-client.js';

const root = mkdtempSync(join(tmpdir(), 'xlane-store-faults-'));
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function stateDir(): string {
  const d = join(root, `s${++n}`);
  mkdirSync(d);
  return d;
}

async function app(opts: Parameters<typeof makeApp>[0]) {
  const b = await makeApp(opts);
  closers.push(() => b.app.close());
  return b;
}

type Built = Awaited<ReturnType<typeof makeApp>>;
const post = (b: Built, url: string, body: unknown = {}) =>
  b.app.inject({
    method: 'POST',
    url,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
const errorOf = (res: { json(): unknown }) =>
  (res.json() as { error: { code: string; message: string; details?: Record<string, unknown> } }).error;

/** What a client can see of the controller's state. */
async function seen(b: Built) {
  const get = async (url: string) => (await b.app.inject({ url })).json();
  return {
    health: await get('/v1/health'),
    lanes: await get('/v1/lanes'),
    hosts: await get('/v1/hosts'),
    ports: await get('/v1/ports'),
  };
}

/** A store around an in-memory SQLite one whose writes, and reads, fail on demand. */
function flakyStore() {
  const inner = openSqliteStore(':memory:');
  const fail = { writes: false, reads: false, attempts: 0 };
  const store: LaneStore = {
    load: () => {
      if (fail.reads) throw new XlaneError('XL_ERR_STORE', 'cannot read the lane store: disk I/O error');
      return inner.load();
    },
    apply: (m) => {
      fail.attempts++;
      if (fail.writes) {
        throw new XlaneError('XL_ERR_STORE', 'cannot write the lane store: disk I/O error', {
          sqlite: 'SQLITE_IOERR_WRITE',
        });
      }
      inner.apply(m);
    },
    close: () => inner.close(),
  };
  return { store, fail };
}

describe('the state file moved away under a running controller', () => {
  const cases: [string, (dir: string, db: string) => void, RegExp][] = [
    ['its directory removed', (dir) => rmSync(dir, { recursive: true }), /xlane\.db was removed/],
    [
      'another file moved in under its name',
      (dir, db) => {
        const other = openSqliteStore(join(dir, 'other.db'));
        other.close();
        renameSync(join(dir, 'other.db'), db);
      },
      /xlane\.db was replaced by another file/,
    ],
    ['its WAL removed', (_dir, db) => rmSync(`${db}-wal`), /xlane\.db-wal was removed/],
  ];
  for (const [what, move, says] of cases) {
    it(`${what}: every change is refused with XL_ERR_STORE, nothing changes, reads still answer`, async () => {
      const dir = stateDir();
      const db = join(dir, 'xlane.db');
      const b = await app({ dbPath: db });
      expect((await post(b, '/v1/lanes', lane('h1', ['h2']))).statusCode).toBe(201);
      const before = await seen(b);
      move(dir, db);
      // Without the check SQLite writes on into the unlinked file: answered 201, gone at restart.
      const refused = [
        await post(b, '/v1/lanes', lane('h3', ['h2'])),
        await b.app.inject({ method: 'DELETE', url: '/v1/lanes/L1' }),
        await post(b, '/v1/hosts/h2/register'),
      ];
      for (const res of refused) {
        expect(res.statusCode).toBe(503);
        expect(errorOf(res)).toMatchObject({
          code: 'XL_ERR_STORE',
          message: expect.stringMatching(says),
          details: { file: db, reason: 'moved' },
        });
      }
      expect(await seen(b)).toEqual(before);
    });
  }
});

describe('one controller per state file', () => {
  it('a second controller on the same file is refused at start; the first one goes on', async () => {
    const db = join(stateDir(), 'xlane.db');
    const first = await app({ dbPath: db });
    expect((await post(first, '/v1/lanes', lane('h1', ['h2']))).statusCode).toBe(201);
    // Without the lock both would run, each granting L2 from its own copy of the state.
    await expect(makeApp({ dbPath: db })).rejects.toMatchObject({
      code: 'XL_ERR_STORE',
      message: expect.stringMatching(/another process holds its lock.*one controller per state file/),
      details: { file: db, sqlite: 'SQLITE_BUSY' },
    });
    expect((await post(first, '/v1/lanes', lane('h3', ['h2']))).statusCode).toBe(201);
    await first.app.close();
    const second = await app({ dbPath: db });
    expect((await seen(second)).lanes.lanes.map((l: { id: string }) => l.id)).toEqual(['L1', 'L2']);
  });

  it('two `xlane controller` processes started at once on one file: one serves, the other exits with XL_ERR_STORE', async () => {
    const db = join(stateDir(), 'xlane.db');
    // The file exists before: a start that fails removes only a file it created itself.
    const s = openSqliteStore(db);
    s.apply({ topology: testbed(), epoch: 0, nextLaneId: 1 });
    s.close();
    const results = await Promise.allSettled([startCli(db), startCli(db)]);
    const up = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const down = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    expect(up).toHaveLength(1);
    expect(down).toHaveLength(1);
    expect(down[0]!.message).toMatch(
      /exited 1: xlane: XL_ERR_STORE: cannot open the lane store .*xlane\.db: another process holds its lock/,
    );
    const res = await fetch(`${up[0]!.url}/v1/lanes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(lane('h1', ['h2'])),
    });
    expect(res.status).toBe(201);
    up[0]!.child.kill('SIGKILL');
    await new Promise((r) => up[0]!.child.once('exit', r));
    const after = openSqliteStore(db);
    expect(after.load().lanes.map((l) => l.id)).toEqual(['L1']);
    after.close();
  });
});

describe('a state file that cannot be opened for writing', () => {
  it('a WAL that cannot be created stops the start with XL_ERR_STORE naming it; nothing else changes', async () => {
    const db = join(stateDir(), 'xlane.db');
    const s = openSqliteStore(db);
    s.apply({ topology: testbed(), epoch: 0, nextLaneId: 1 });
    s.close();
    // A directory where the WAL should go: refused even to root, unlike a mode bit.
    mkdirSync(`${db}-wal`);
    await expect(makeApp({ dbPath: db })).rejects.toMatchObject({
      code: 'XL_ERR_STORE',
      message: expect.stringContaining(`its ${db}-wal cannot be opened or created`),
      details: { file: db, sqlite: 'SQLITE_CANTOPEN' },
    });
    rmSync(`${db}-wal`, { recursive: true });
    const b = await app({ dbPath: db });
    expect((await seen(b)).health).toMatchObject({ epoch: 0, lanes: 0 });
  });
});

describe('a failed write', () => {
  it('leaves the allocator as last stored even when the store cannot be read back either', async () => {
    const { store, fail } = flakyStore();
    const b = await app({ store });
    expect((await post(b, '/v1/lanes', lane('h1', ['h2']))).statusCode).toBe(201);
    const before = await seen(b);
    fail.writes = true;
    fail.reads = true;
    const res = await post(b, '/v1/lanes', lane('h3', ['h2']));
    // The write's own error, not the failed read's that the old rebuild from the store raised.
    expect(errorOf(res)).toMatchObject({ code: 'XL_ERR_STORE', details: { sqlite: 'SQLITE_IOERR_WRITE' } });
    expect(await seen(b)).toEqual(before);
    fail.writes = false;
    fail.reads = false;
    // An allocator left holding the refused L2 answered XL_ERR_DUPLICATE here until a restart.
    const again = await post(b, '/v1/lanes', lane('h3', ['h2']));
    expect(again.statusCode).toBe(201);
    expect(again.json().lane.id).toBe('L2');
    expect(again.json().lane.grant.epoch).toBe(before.health.epoch + 1);
  });

  it('an ack the store refused is stored once it can be, and the lane waiting for it goes live', async () => {
    const { store, fail } = flakyStore();
    const c = await startTestController({ store });
    closers.push(() => c.close());
    const client = new ControllerClient({ url: c.url });
    await client.registerHost('h2');
    const opened = (await client.openLane(lane('h1', ['h2']))).lane;
    expect(opened).toMatchObject({ id: 'L1', state: 'pending', pendingHosts: ['h2'] });
    const w = await TestWatch.open(client.watchUrl('h2'));
    closers.push(() => w.close());
    w.send({ type: 'hello', host: 'h2' });
    const snap = await w.next('snapshot');
    fail.writes = true;
    w.send({ type: 'ack', version: snap.version });
    expect(await w.next('error')).toMatchObject({ code: 'XL_ERR_STORE' });
    expect((await client.lane('L1')).state).toBe('pending');
    fail.writes = false;
    // The agent does not ack again: without the retry L1 would wait for h2's next update.
    const update = await within(5_000, w.next('update'));
    expect(update.grants).toEqual([expect.objectContaining({ laneId: 'L1', state: 'live' })]);
    expect((await client.hosts()).find((h) => h.name === 'h2')?.ackedVersion).toBe(snap.version);
  });
});

describe('closing the controller', () => {
  it('ends the retries of an ack the store refused', async () => {
    const { store, fail } = flakyStore();
    const b = await makeApp({ store });
    expect((await post(b, '/v1/hosts/h2/register')).statusCode).toBe(200);
    expect((await post(b, '/v1/lanes', lane('h1', ['h2']))).statusCode).toBe(201);
    fail.writes = true;
    expect(() => b.lifecycle.ack('h2', 1)).toThrow(expect.objectContaining({ code: 'XL_ERR_STORE' }));
    await b.app.close();
    const attempts = fail.attempts;
    await new Promise((r) => setTimeout(r, 1_500));
    // A retry after close would write to a closed store every second for good.
    expect(fail.attempts).toBe(attempts);
  });
});

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const startCli = (db: string) => spawnControllerCli(db, children);
