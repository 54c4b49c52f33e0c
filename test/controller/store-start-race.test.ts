// Two controllers started at once on a state file not there yet: both look for it before either
// opens it, so both take it for their own. The one the lock refuses must not remove it — it is the
// winner's. The race itself is too narrow to hit on demand, so the look is made to miss the file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import { lane, startTestController } from './helpers.js';

const RACED = 'raced.db';

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const look = (p: unknown) => (String(p).endsWith(RACED) ? false : fs.existsSync(p as string));
  return { ...fs, existsSync: look, default: { ...fs, existsSync: look } };
});

const root = mkdtempSync(join(tmpdir(), 'xlane-start-race-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('a start refused by the lock on a file it thought it created leaves the winner its file', async () => {
  const db = join(root, RACED);
  const winner = await startTestController({ dbPath: db });
  try {
    await expect(startTestController({ dbPath: db })).rejects.toMatchObject({
      code: 'XL_ERR_STORE',
      details: { sqlite: 'SQLITE_BUSY' },
    });
    const res = await fetch(`${winner.url}/v1/lanes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(lane('h1', ['h2'])),
    });
    expect(res.status).toBe(201);
  } finally {
    await winner.close();
  }
  const { openSqliteStore } = await import('../../src/controller/sqlite-store.js');
  const after = openSqliteStore(db);
  expect(after.load().lanes.map((l) => l.id)).toEqual(['L1']);
  after.close();
});
