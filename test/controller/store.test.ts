import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/controller/sqlite-store.js';
import { applyToSnapshot, emptySnapshot, type StoredLane } from '../../src/controller/store.js';
import { FakeAllocator, threeHostSpec } from './fake-allocator.js';

const dirs: string[] = [];
function tempDb(): string {
  const d = mkdtempSync(join(tmpdir(), 'xlane-store-'));
  dirs.push(d);
  return join(d, 'state.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function lane(id: string, receivers: string[]): StoredLane {
  const alloc = new FakeAllocator(threeHostSpec());
  const request = { sender: 'h1', receivers, maxPayloadBytes: 64, minPeriodNs: 100_000 };
  const r = alloc.admit(id, request);
  if (!r.ok) throw r.error;
  return {
    id,
    request,
    grant: r.grant,
    state: 'pending',
    createdAt: '2026-01-01T00:00:00.000Z',
    waitFor: { h2: 3 },
  };
}

describe('SQLite lane store', () => {
  it('persists every mutation and reads it back identically after reopening', () => {
    const path = tempDb();
    const s = openSqliteStore(path);
    const mutations = [
      { topology: threeHostSpec(), epoch: 1, nextLaneId: 1 },
      { putLanes: [lane('L1', ['h2']), lane('L2', ['h2', 'h3'])], nextLaneId: 3, epoch: 2 },
      { putHosts: [{ name: 'h2', registered: true, agentVersion: '1.0', version: 3, ackedVersion: 2 }] },
      { putLanes: [{ ...lane('L1', ['h2']), state: 'live' as const, waitFor: {} }], deleteLanes: ['L2'] },
      { putHosts: [{ name: 'h3', registered: false, version: 1, ackedVersion: 0 }], deleteHosts: ['h2'] },
    ];
    let expected = emptySnapshot();
    for (const m of mutations) {
      s.apply(m);
      expected = applyToSnapshot(expected, m);
      expect(s.load()).toEqual(expected);
    }
    s.close();
    const reopened = openSqliteStore(path);
    expect(reopened.load()).toEqual(expected);
    reopened.close();
  });

  it('keeps lanes in admission order when one is updated', () => {
    const s = openSqliteStore(tempDb());
    s.apply({ putLanes: [lane('L1', ['h2']), lane('L2', ['h3'])] });
    s.apply({ putLanes: [{ ...lane('L1', ['h2']), state: 'live' }] });
    expect(s.load().lanes.map((l) => l.id)).toEqual(['L1', 'L2']);
    s.close();
  });

  it('a mutation that fails half-way changes nothing (one transaction)', () => {
    const s = openSqliteStore(tempDb());
    s.apply({ epoch: 1, putLanes: [lane('L1', ['h2'])] });
    const before = s.load();
    const poisoned = { ...lane('L3', ['h2']), request: { bad: 1n } as never };
    expect(() =>
      s.apply({ epoch: 2, deleteLanes: ['L1'], putLanes: [lane('L2', ['h3']), poisoned] }),
    ).toThrow(expect.objectContaining({ code: 'XL_ERR_STORE' }));
    expect(s.load()).toEqual(before);
    s.close();
  });

  it('reports an unopenable file as XL_ERR_STORE', () => {
    expect(() => openSqliteStore('/nonexistent-dir/x/state.db')).toThrow(
      expect.objectContaining({ code: 'XL_ERR_STORE' }),
    );
  });

  it('refuses Infinity and NaN (JSON would store null) with XL_ERR_STORE naming the field; nothing changes', () => {
    const s = openSqliteStore(tempDb());
    s.apply({ epoch: 1, putLanes: [lane('L1', ['h2'])] });
    const before = s.load();
    const good = lane('L2', ['h2', 'h3']);
    const infinite = {
      ...good,
      grant: {
        ...good.grant,
        receivers: good.grant.receivers.map((r, i) => (i === 1 ? { ...r, lambdaMaxNs: Infinity } : r)),
      },
    };
    expect(() => s.apply({ epoch: 2, deleteLanes: ['L1'], putLanes: [infinite] })).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_STORE',
        message: expect.stringMatching(/Infinity as lane L2 grant\.receivers\[1\]\.lambdaMaxNs/),
      }),
    );
    expect(() => s.apply({ epoch: Number.NaN })).toThrow(expect.objectContaining({ code: 'XL_ERR_STORE' }));
    expect(() =>
      s.apply({ putHosts: [{ name: 'h2', registered: false, version: Infinity, ackedVersion: 0 }] }),
    ).toThrow(
      expect.objectContaining({ code: 'XL_ERR_STORE', message: expect.stringMatching(/host h2 version/) }),
    );
    expect(s.load()).toEqual(before);
    s.close();
  });

  it('a file whose rows are valid JSON of the wrong shape is XL_ERR_STORE naming the file and the fault', () => {
    const corruptions: [string, RegExp][] = [
      [`UPDATE lanes SET grant_json = 'null'`, /lane L1 grant: expected object/],
      [`UPDATE lanes SET request = '{"sender":"h1"}'`, /lane L1 request at \/receivers/],
      [`UPDATE lanes SET state = 'gone'`, /lane L1: unknown state "gone"/],
      [`UPDATE lanes SET wait_for = '{"h2":-1}'`, /lane L1 wait_for at \/h2/],
      [`UPDATE lanes SET grant_json = '{' `, /lane L1 grant is not JSON/],
      [`UPDATE meta SET value = '{"name":"x"}' WHERE key = 'topology'`, /meta topology at \/mtuBytes/],
      [`UPDATE meta SET value = 'abc' WHERE key = 'epoch'`, /meta epoch is "abc"/],
      [`UPDATE meta SET value = '-5' WHERE key = 'nextLaneId'`, /meta nextLaneId is "-5"/],
      [`UPDATE meta SET value = '0' WHERE key = 'nextLaneId'`, /meta nextLaneId is "0"/],
      [`UPDATE hosts SET agent = '[]'`, /host h2 agent: expected object/],
      [`UPDATE hosts SET version = 'x'`, /host h2: version is x/],
      [`UPDATE hosts SET registered = 7`, /host h2: registered is 7/],
      [`DROP TABLE hosts; CREATE TABLE hosts (x)`, /table hosts has no column named/],
    ];
    for (const [sql, fault] of corruptions) {
      const path = tempDb();
      const s = openSqliteStore(path);
      s.apply({ topology: threeHostSpec(), epoch: 1, nextLaneId: 2, putLanes: [lane('L1', ['h2'])] });
      s.apply({ putHosts: [{ name: 'h2', registered: true, version: 1, ackedVersion: 1 }] });
      s.close();
      const db = new Database(path);
      db.exec(sql);
      db.close();
      let caught: unknown;
      try {
        openSqliteStore(path).load();
      } catch (err) {
        caught = err;
      }
      expect(caught, sql).toMatchObject({ code: 'XL_ERR_STORE', message: expect.stringContaining(path) });
      expect((caught as Error).message, sql).toMatch(fault);
    }
  });
});
