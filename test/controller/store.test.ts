import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
});
