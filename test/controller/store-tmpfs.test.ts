// The state file on a small tmpfs of its own (needs root to mount): the disk filling up under a
// running controller, and a start on a file system mounted read-only. Each mount is gone after
// its test.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerClient } from '../../src/client/controller-client.js';
import type { RunningController } from '../../src/controller/server.js';
import { openSqliteStore } from '../../src/controller/sqlite-store.js';
import { lane, REPO, startTestController, testbed } from './helpers.js';
import { type Message, TestWatch } from './watch-client.js';

const isRoot = process.getuid?.() === 0;
const mounts: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  for (const m of mounts.splice(0)) {
    try {
      execFileSync('umount', [m], { stdio: 'pipe' });
    } catch {
      // Still held (a test that failed half-way): detached now, freed once let go.
      execFileSync('umount', ['-l', m]);
    }
    rmSync(m, { recursive: true, force: true });
  }
});

function tmpfs(size: string): string {
  const dir = mkdtempSync('/tmp/xl-store-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

/** Takes every free block of the file system that holds `dir`; returns how to give them back. */
function fill(dir: string): () => void {
  const file = join(dir, 'filler');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return () => rmSync(file);
}

function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A controller closed after the test, unless the test closed it (close() is once only). */
async function controller(db: string): Promise<RunningController & { close(): Promise<void> }> {
  const c = await startTestController({ dbPath: db });
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= c.close();
    return closed;
  };
  closers.push(close);
  return { ...c, close };
}

/** Everything a client can read of the state; `connected` aside, which is not stored. */
async function stateOf(client: ControllerClient) {
  return {
    epoch: (await client.health()).epoch,
    lanes: await client.lanes(),
    hosts: (await client.hosts()).map(({ connected: _, ...h }) => h),
    ports: await client.ports(),
    topology: await client.topology(),
  };
}

const STORE_FULL = {
  code: 'XL_ERR_STORE',
  message: expect.stringMatching(/xlane\.db: the file system holding it is full/),
  details: { sqlite: 'SQLITE_FULL' },
};

describe.skipIf(!isRoot)(
  'the state file on a full or read-only file system (needs root: mounts a tmpfs)',
  () => {
    it('a full disk refuses every change with XL_ERR_STORE and changes nothing; with space back all goes on, and a restart has exactly what was answered', async () => {
      const mnt = tmpfs('1m');
      const db = join(mnt, 'xlane.db');
      const c = await controller(db);
      const client = new ControllerClient({ url: c.url });
      await client.registerHost('h2');
      const a = (await client.openLane(lane('h1', ['h2']))).lane;
      expect(a).toMatchObject({ id: 'L1', state: 'pending' });
      await client.openLane(lane('h3', ['h1']));
      const w = await TestWatch.open(client.watchUrl('h2'));
      closers.push(() => w.close());
      w.send({ type: 'hello', host: 'h2' });
      const snap = await w.next('snapshot');
      const before = await stateOf(client);

      const unfill = fill(mnt);
      const faster = {
        ...before.topology,
        links: before.topology.links.map((k) => ({ ...k, rateBps: 2e9 })),
      };
      const bounds = {
        sendLatency: { minNs: 6000, maxNs: 40000 },
        recvLatency: { minNs: 6000, maxNs: 40000 },
      };
      for (const refused of [
        () => client.openLane(lane('h3', ['h2'])),
        () => client.closeLane('L2'),
        () => client.replaceTopology(faster),
        () => client.registerHost('h3', { agentVersion: 'test' }),
        () => client.setHostLatency('h1', bounds),
      ]) {
        await expect(refused()).rejects.toMatchObject(STORE_FULL);
      }
      w.send({ type: 'ack', version: snap.version });
      expect(await w.next('error')).toMatchObject({ code: 'XL_ERR_STORE' });
      expect(await stateOf(client)).toEqual(before);
      // Nothing refused reached an agent.
      expect(w.messages.map((m: Message) => m.type)).toEqual(['snapshot', 'error']);

      unfill();
      // The refused ack is retried: L1 goes live without the agent sending it again.
      const live = await within(5_000, w.next('update'));
      expect(live.grants).toEqual([expect.objectContaining({ laneId: 'L1', state: 'live' })]);
      expect((await client.openLane(lane('h3', ['h2']))).lane.id).toBe('L3');
      await client.closeLane('L2');
      await w.close();
      const told = await stateOf(client);
      expect(told.lanes.map((l) => [l.id, l.state])).toEqual([
        ['L1', 'live'],
        ['L3', 'pending'],
      ]);

      await c.close();
      const again = await controller(db);
      expect(await stateOf(new ControllerClient({ url: again.url }))).toEqual(told);
    });

    it('a read-only file system stops the start with XL_ERR_STORE saying so, also with a WAL left by a crash; the file is untouched', async () => {
      const mnt = tmpfs('1m');
      const db = join(mnt, 'xlane.db');
      const s = openSqliteStore(db);
      s.apply({ topology: testbed(), epoch: 0, nextLaneId: 1 });
      s.close();
      // A crash with a change in the WAL (and the -shm index an older controller kept): with both
      // there SQLite opened the file read-only, and the controller started, refusing every change.
      const sqlite = createRequire(join(REPO, 'package.json')).resolve('better-sqlite3');
      const crash = spawnSync(process.execPath, [
        '-e',
        `const db = new (require(${JSON.stringify(sqlite)}))(${JSON.stringify(db)});
       db.pragma('journal_mode = WAL');
       db.prepare("UPDATE meta SET value = '3' WHERE key = 'nextLaneId'").run();
       process.kill(process.pid, 'SIGKILL');`,
      ]);
      expect(crash.signal).toBe('SIGKILL');
      const files = () => [db, `${db}-wal`].map((f) => readFileSync(f).toString('base64'));
      const bytes = files();
      execFileSync('mount', ['-o', 'remount,ro', mnt]);
      const start = startTestController({ dbPath: db });
      start.then((c) => closers.push(() => c.close())).catch(() => {});
      await expect(start).rejects.toMatchObject({
        code: 'XL_ERR_STORE',
        message: expect.stringMatching(/xlane\.db: it is on a read-only file system/),
        details: { file: db },
      });
      expect(files()).toEqual(bytes);
      execFileSync('mount', ['-o', 'remount,rw', mnt]);
      const c = await controller(db);
      // The change in the crashed WAL was recovered.
      const client = new ControllerClient({ url: c.url });
      expect((await client.openLane(lane('h1', ['h2']))).lane.id).toBe('L3');
    });
  },
);
