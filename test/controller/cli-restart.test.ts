// The real binary: `xlane controller` on a SQLite file, killed with SIGKILL (no graceful close) and
// restarted on the same file: every lane, grant, host version and the pending gate are unchanged.
// Also a smoke test of `xlane lanes` / `xlane status` against it. Spawns are slow: few of them.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ControllerClient } from '../../src/client/controller-client.js';
import { openSqliteStore } from '../../src/controller/sqlite-store.js';
import { loadTopologyFile } from '../../src/topology/load.js';
import { lane, REPO, spawnControllerCli, TESTBED } from './helpers.js';
import { TestWatch } from './watch-client.js';

const dir = mkdtempSync(join(tmpdir(), 'xlane-cli-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const cliArgs = (args: string[]) => ['--import', 'tsx', 'src/cli/main.ts', ...args];

const startCli = (db: string) => spawnControllerCli(db, children);

function runCli(args: string[]) {
  const r = spawnSync(process.execPath, cliArgs(args), {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, XLANE_TOKEN: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function stateOf(client: ControllerClient) {
  const [health, lanes, hosts, topology] = await Promise.all([
    client.health(),
    client.lanes(),
    client.hosts(),
    client.topology(),
  ]);
  const grants = await Promise.all(['h1', 'h2', 'h3'].map((h) => client.grants(h)));
  return { epoch: health.epoch, lanes, hosts, grants, topology };
}

describe('xlane controller process', () => {
  it('survives SIGKILL: the restarted controller has every lane and grant, and the pending gate', async () => {
    const db = join(dir, 'state.db');
    const first = await startCli(db);
    const client = new ControllerClient({ url: first.url });
    await client.registerHost('h2', { agentVersion: 'test' });
    const a = (await client.openLane(lane('h1', ['h2'], { name: 'fd-h1-h2' }))).lane;
    // h2 is a registered receiver of A: A goes live once h2's agent acks the version carrying it
    expect(a).toMatchObject({ state: 'pending', pendingHosts: ['h2'] });
    const agent = await TestWatch.open(client.watchUrl('h2'));
    agent.send({ type: 'hello', host: 'h2' });
    const held = await agent.next('snapshot');
    expect((held.grants as { laneId: string; state: string }[]).map((g) => [g.laneId, g.state])).toEqual([
      [a.id, 'pending'],
    ]);
    agent.send({ type: 'ack', version: held.version });
    const aLive = await agent.next('update');
    expect((aLive.grants as { laneId: string; state: string }[]).map((g) => [g.laneId, g.state])).toEqual([
      [a.id, 'live'],
    ]);
    expect((await client.lane(a.id)).state).toBe('live');
    await agent.close();
    // stateOf compares host views, which include `connected`: wait until the controller saw it go
    while ((await client.hosts()).find((h) => h.name === 'h2')!.connected) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // a full-size lane towards h2 moves A's window beyond the default headroom: h2 must ack
    const b = (
      await client.openLane(lane('h3', ['h2', 'h1'], { maxPayloadBytes: 1418, minPeriodNs: 1_000_000 }))
    ).lane;
    expect(b.state).toBe('pending');
    const c = (await client.openLane(lane('h2', ['h3']))).lane;
    await client.closeLane(c.id);
    const before = await stateOf(client);

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await startCli(db);
    const again = new ControllerClient({ url: second.url });
    expect(await stateOf(again)).toEqual(before);
    expect(before.lanes.map((l) => l.id)).toEqual([a.id, b.id]);

    // the gate survived too: h2's ack of the version it holds lets B go live
    const w = await TestWatch.open(again.watchUrl('h2'));
    w.send({ type: 'hello', host: 'h2' });
    const snap = await w.next('snapshot');
    w.send({ type: 'ack', version: snap.version });
    const update = await w.next('update');
    expect((update.grants as { laneId: string; state: string }[]).map((g) => [g.laneId, g.state])).toEqual([
      [b.id, 'live'],
    ]);
    expect((await again.lane(b.id)).state).toBe('live');
    await w.close();

    // CLI smoke against the restarted controller
    const list = runCli(['lanes', 'list', '--json', '--controller', second.url]);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((l) => l.id)).toEqual(
      (await again.lanes()).map((l) => l.id),
    );
    const opened = runCli([
      'lanes',
      'open',
      '--from',
      'h3',
      '--to',
      'h1',
      '--size',
      '128',
      '--period',
      '250us',
      '--name',
      'hb',
      '--json',
      '--controller',
      second.url,
    ]);
    expect(opened.code).toBe(0);
    expect(JSON.parse(opened.stdout).lane).toMatchObject({
      name: 'hb',
      request: { maxPayloadBytes: 128, minPeriodNs: 250_000 },
    });
    const bad = runCli([
      'lanes',
      'open',
      '--from',
      'h3',
      '--to',
      'h9',
      '--size',
      '64',
      '--period',
      '100us',
      '--controller',
      second.url,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/XL_ERR_UNKNOWN_HOST/);
    const status = runCli(['status', '--json', '--controller', second.url]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).lanes).toMatchObject({ total: 3, live: 3, pending: 0 });

    // graceful stop on SIGTERM, then a clear connect error
    second.child.kill('SIGTERM');
    const code = await new Promise((r) => second.child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(second.log()).toMatch(/controller stopping/);
    const refused = runCli(['status', '--controller', second.url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/XL_ERR_CONNECT/);
  });

  it('a state file of the wrong shape stops the start with one XL_ERR_STORE line, no stack', () => {
    const db = join(dir, 'corrupt.db');
    const store = openSqliteStore(db);
    store.apply({ topology: loadTopologyFile(TESTBED), epoch: 0, nextLaneId: 1 });
    store.close();
    const raw = new Database(db);
    raw.prepare(`UPDATE meta SET value = '{"name":"x"}' WHERE key = 'topology'`).run();
    raw.close();
    const r = runCli(['controller', '--db', db, '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^xlane: XL_ERR_STORE: cannot read the lane store .*corrupt\.db: meta topology/),
    ]);
  });
});
