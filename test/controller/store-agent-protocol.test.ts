// Host rows keep what the agent said of itself as JSON (the `agent` column): rows written before
// agents said their control protocol must still load, those written after keep it, and a value of
// the wrong shape is refused like any other row the controller did not write.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/controller/sqlite-store.js';
import { makeApp } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A state file with the topology, and host rows as given (name → [registered, agent JSON]). */
async function stateFile(rows: Record<string, [number, string]>): Promise<string> {
  const d = mkdtempSync(join(tmpdir(), 'xlane-agent-protocol-'));
  dirs.push(d);
  const path = join(d, 'state.db');
  const b = await makeApp({ dbPath: path });
  await b.app.close();
  const db = new Database(path);
  const put = db.prepare(
    'INSERT INTO hosts (name, registered, agent, version, acked_version) VALUES (?, ?, ?, 0, 0)',
  );
  for (const [name, [registered, agent]] of Object.entries(rows)) put.run(name, registered, agent);
  db.close();
  return path;
}

describe('host rows and the control protocol', () => {
  it('loads rows written before agents said their protocol, and keeps it once they do', async () => {
    // What xlane 0.1.0 wrote for a registered host, and for one never registered.
    const path = await stateFile({
      h1: [
        1,
        '{"agentVersion":"0.1.0","engine":"js","registeredAt":"2026-01-01T00:00:00.000Z","clockDomain":"boot-1"}',
      ],
      h2: [0, '{}'],
    });
    let b = await makeApp({ dbPath: path });
    const h1 = (await b.app.inject({ url: '/v1/hosts' })).json().hosts[0];
    expect(h1).toMatchObject({
      name: 'h1',
      registered: true,
      agentVersion: '0.1.0',
      engine: 'js',
      clockDomain: 'boot-1',
    });
    expect(h1).not.toHaveProperty('protocol');
    // Until it registers again, the fleet view can say its version but not its protocol.
    expect((await b.app.inject({ url: '/v1/health' })).json().agents).toEqual([
      { agentVersion: '0.1.0', hosts: 1 },
    ]);
    b.lifecycle.registerHost('h1', {
      agentVersion: '0.2.0',
      protocol: 1,
      engine: 'js',
      clockDomain: 'boot-1',
    });
    await b.app.close();

    b = await makeApp({ dbPath: path });
    try {
      expect((await b.app.inject({ url: '/v1/hosts' })).json().hosts[0]).toMatchObject({
        agentVersion: '0.2.0',
        protocol: 1,
      });
    } finally {
      await b.app.close();
    }
    const db = new Database(path, { readonly: true });
    const row = db.prepare("SELECT agent FROM hosts WHERE name = 'h1'").get() as { agent: string };
    db.close();
    expect(JSON.parse(row.agent)).toMatchObject({ agentVersion: '0.2.0', protocol: 1 });
  });

  it('refuses a stored protocol of the wrong shape with XL_ERR_STORE, naming the row', async () => {
    const path = await stateFile({ h1: [1, '{"agentVersion":"0.2.0","protocol":"1"}'] });
    const store = openSqliteStore(path);
    try {
      expect(() => store.load()).toThrow(
        expect.objectContaining({
          code: 'XL_ERR_STORE',
          message: expect.stringMatching(/host h1 agent at \/protocol/),
        }),
      );
    } finally {
      store.close();
    }
  });
});
