// Embedded clients do not leak lanes at the controller: a real controller on loopback, embedded
// clients running the js engine (some in child processes killed with SIGKILL), and the lane records
// they keep in their stateDir (client/lane-records.ts). A lane left by a killed process, or by a
// close the controller did not answer, is released by the next start with the same directory; a
// live process's lanes are not, though it shares the directory.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentLog } from '../../src/agent/log.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import {
  currentOwner,
  defaultStateDir,
  EmbeddedLaneRecords,
  ownerGone,
  processAlive,
  type RecordOwner,
} from '../../src/client/lane-records.js';
import type { RunningController } from '../../src/controller/server.js';
import { connect, type EmbeddedOptions } from '../../src/index.js';
import { topologyToYaml } from '../../src/topology/load.js';
import { REPO, spawnControllerCli, startTestController, testbed } from '../controller/helpers.js';
import { freeUdpPort } from './free-udp-port.js';

const HOLDER = fileURLToPath(new URL('./fixtures/embedded-holder.ts', import.meta.url));
const PEERS = { h1: '127.0.0.1', h2: '127.0.0.2' };
const lane = { to: 'h2', maxPayloadBytes: 64, minPeriodNs: 1_000_000, waitLiveMs: 0 };

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xlane-records-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function controllerOn(dbPath = ':memory:', listen = '127.0.0.1:0', expressPort?: number) {
  const topology = {
    ...testbed(),
    expressPort: expressPort ?? (await freeUdpPort(['127.0.0.2', '127.0.0.3'])),
  };
  const c = await startTestController({ topology, dbPath, listen, logger: false });
  cleanups.push(() => c.close());
  return c;
}

async function embedded(url: string, extra: Partial<EmbeddedOptions>) {
  const client = await connect({ embedded: { controller: url, host: 'h1', peers: PEERS, ...extra } });
  cleanups.push(() => client.close().catch(() => {}));
  return client;
}

const laneIds = async (c: RunningController) =>
  (await new ControllerClient({ url: c.url }).lanes()).map((l) => l.id).sort();

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An embedded client for h1 in a child process, holding one lane. */
async function holder(url: string, dir: string, bindAddress: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', HOLDER, url, dir, bindAddress], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => kill(child));
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const laneId = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /lane (L\d+)\n/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`holder exited (${code}): ${err}`)));
  });
  return { child, laneId };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('lanes an embedded client leaves admitted', () => {
  it('of a process killed with SIGKILL are released by the next start with the same stateDir', async () => {
    const c = await controllerOn();
    const dir = tempDir();
    const { child, laneId } = await holder(c.url, dir, '127.0.0.1');
    expect(await laneIds(c)).toEqual([laneId]);
    await kill(child);
    // Nothing closed it: the controller still admits it, and would forever.
    await new Promise((r) => setTimeout(r, 200));
    expect(await laneIds(c)).toEqual([laneId]);

    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    cleanups.push(() => warn.mockRestore());
    const next = await embedded(c.url, { stateDir: dir });
    await until(async () => (await laneIds(c)).length === 0, `${laneId} released`);
    const said = warn.mock.calls.filter((w) => (w[1] as { code?: string })?.code === 'XL_LANE_RECORD');
    expect(said.map((w) => String(w[0]))).toEqual([
      expect.stringMatching(
        new RegExp(`releasing lanes that earlier embedded clients for h1 left .*${laneId}`),
      ),
    ]);
    // The dead process's record was taken over; this client, closing with nothing left, leaves none.
    expect(readdirSync(dir).some((f) => f.startsWith(`lanes-${child.pid}-`))).toBe(false);
    await next.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('when close() finds the controller down: it rejects naming them, and the next start releases them', async () => {
    const dir = tempDir();
    const db = join(dir, 'state.db');
    const records = join(dir, 'records');
    const first = await controllerOn(db);
    const { expressPort } = await new ControllerClient({ url: first.url }).topology();
    const listen = `127.0.0.1:${new URL(first.url).port}`;
    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    cleanups.push(() => vi.mocked(process.emitWarning).mockRestore());
    const closing = await embedded(first.url, { stateDir: records, releaseTimeoutMs: 300 });
    const kept = await closing.openLane(lane);
    // Another client in this process, destroyed: it does not wait, its record keeps the lane all the same.
    const destroyed = await embedded(first.url, { stateDir: records, bindAddress: '127.0.0.3' });
    const dropped = await destroyed.openLane(lane);
    await first.close();

    const err = await closing.close().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: 'XL_ERR_CONNECT',
      details: { lanes: [kept.id], host: 'h1', stateDir: records },
    });
    expect((err as Error).message).toMatch(
      new RegExp(`could not release lane\\(s\\) ${kept.id} within 300 ms, so they may stay admitted at`),
    );
    expect((err as Error).message).toMatch(
      /the next embedded start for h1 with stateDir .*records releases them/,
    );
    expect(closing.closed).toBe(true);
    expect(kept.state).toBe('closed');
    destroyed.destroy();
    // Its agent stops in the background: the controller must not be back before it has.
    const closedRecords = () =>
      readdirSync(records).filter((f) => JSON.parse(readFileSync(join(records, f), 'utf8')).closed === true);
    await until(() => closedRecords().length === 2, 'both records closed');

    const second = await controllerOn(db, listen, expressPort);
    expect(await laneIds(second)).toEqual([kept.id, dropped.id].sort());
    const next = await embedded(second.url, { stateDir: records });
    await until(async () => (await laneIds(second)).length === 0, 'both lanes released');
    await next.close();
    expect(readdirSync(records)).toEqual([]);
  });

  it('when the controller does not answer at all: close() ends within releaseTimeoutMs, not the request timeout', async () => {
    const dir = tempDir();
    const topologyFile = join(dir, 'topology.yaml');
    writeFileSync(
      topologyFile,
      topologyToYaml({ ...testbed(), expressPort: await freeUdpPort(['127.0.0.2', '127.0.0.3']) }),
    );
    const children: ChildProcess[] = [];
    cleanups.push(async () => {
      for (const c of children) {
        c.kill('SIGCONT');
        await kill(c);
      }
    });
    const { child, url } = await spawnControllerCli(join(dir, 'state.db'), children, topologyFile);
    const records = join(dir, 'records');
    const client = await embedded(url, { stateDir: records, releaseTimeoutMs: 300 });
    const kept = await client.openLane(lane);
    // Stopped, not gone: connections are accepted by the kernel and nothing answers, so each
    // request would wait for ControllerClient's 10 s timeout.
    child.kill('SIGSTOP');

    const began = Date.now();
    const err = await client.close().then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - began;
    expect(err).toMatchObject({ code: 'XL_ERR_TIMEOUT', details: { lanes: [kept.id], stateDir: records } });
    expect((err as Error).message).toMatch(/within 300 ms.*the controller did not answer/);
    expect(took).toBeLessThan(5_000);

    // Back: the lane is released, by its abandoned close if that reached the controller, else by the
    // next start taking over the record.
    child.kill('SIGCONT');
    const next = await embedded(url, { stateDir: records });
    await until(async () => (await new ControllerClient({ url }).lanes()).length === 0, 'the lane released');
    await next.close();
    expect(readdirSync(records)).toEqual([]);
  });

  it('when the controller answers again within releaseTimeoutMs: close() releases them and resolves', async () => {
    const dir = tempDir();
    const db = join(dir, 'state.db');
    const first = await controllerOn(db);
    const { expressPort } = await new ControllerClient({ url: first.url }).topology();
    const listen = `127.0.0.1:${new URL(first.url).port}`;
    const client = await embedded(first.url, { stateDir: join(dir, 'records'), releaseTimeoutMs: 20_000 });
    await client.openLane(lane);
    await first.close();

    const closed = client.close();
    await new Promise((r) => setTimeout(r, 300));
    const second = await controllerOn(db, listen, expressPort);
    await closed;
    expect(await laneIds(second)).toEqual([]);
    expect(readdirSync(join(dir, 'records'))).toEqual([]);
  });

  it('of a live process are not released by another sharing the directory; once it is killed they are', async () => {
    const c = await controllerOn();
    const dir = tempDir();
    // In this order: a start takes over the records of the dead, so `live` must start before.
    const live = await holder(c.url, dir, '127.0.0.1');
    const dead = await holder(c.url, dir, '127.0.0.3');
    await kill(dead.child);
    expect(await laneIds(c)).toEqual([dead.laneId, live.laneId].sort());

    vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    cleanups.push(() => vi.mocked(process.emitWarning).mockRestore());
    const next = await embedded(c.url, { stateDir: dir, bindAddress: '127.0.0.3' });
    await until(async () => !(await laneIds(c)).includes(dead.laneId), `${dead.laneId} released`);
    // The record was read once, at connect: the live process's lane is not among what it took over.
    await new Promise((r) => setTimeout(r, 200));
    expect(await laneIds(c)).toEqual([live.laneId]);
    expect(readdirSync(dir).filter((f) => f.startsWith(`lanes-${live.child.pid}-`))).toHaveLength(1);
    await next.close();

    await kill(live.child);
    const after = await embedded(c.url, { stateDir: dir, bindAddress: '127.0.0.3' });
    await until(async () => (await laneIds(c)).length === 0, `${live.laneId} released`);
    await after.close();
  });

  it('are recorded by default under $XDG_STATE_HOME/xlane/embedded', async () => {
    const c = await controllerOn();
    const state = tempDir();
    vi.stubEnv('XDG_STATE_HOME', state);
    cleanups.push(() => vi.unstubAllEnvs());
    const client = await embedded(c.url, {});
    const held = await client.openLane(lane);
    const dir = join(state, 'xlane', 'embedded');
    const [file, ...more] = readdirSync(dir);
    expect(more).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, file!), 'utf8'))).toMatchObject({
      host: 'h1',
      controller: c.url,
      owner: { pid: process.pid },
      lanes: [{ id: held.id, createdAt: expect.any(String) }],
    });
    await client.close();
    expect(readdirSync(dir)).toEqual([]);
    expect(defaultStateDir({ HOME: '/home/u' })).toMatch(/\/\.local\/state\/xlane\/embedded$/);
  });
});

describe('whose record an embedded start takes over', () => {
  const me = currentOwner();
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid;

  it('judges an owner gone only when sure of it', () => {
    const dead = (): boolean => false;
    expect(ownerGone({ ...me }, me)).toBe(false);
    expect(ownerGone({ ...me, pid: deadPid }, me)).toBe(true);
    expect(processAlive(process.pid, me.startTime)).toBe(true);
    // The pid handed out again, to another process: not the owner.
    expect(processAlive(process.pid, `${me.startTime}0`)).toBe(me.startTime === undefined);
    // Another machine's (a shared directory), another container's: not this process's to judge.
    expect(ownerGone({ ...me, hostname: `${me.hostname}-other` }, me, dead)).toBe(false);
    expect(ownerGone({ ...me, pidNs: 'pid:[1]' }, me, dead)).toBe(me.pidNs === 'pid:[1]');
    // This machine before a reboot: every process of that boot is gone.
    expect(ownerGone({ ...me, bootId: 'an-earlier-boot' }, { ...me, bootId: 'this-boot' }, () => true)).toBe(
      true,
    );
  });

  it('takes over the same host and controller’s closed or dead clients, and nothing else', () => {
    const dir = tempDir();
    const url = 'http://127.0.0.1:7300';
    const entry = (id: string) => ({ id, createdAt: `2026-01-01T00:00:00.00${id.slice(1)}Z` });
    const write = (name: string, body: object) => writeFileSync(join(dir, name), JSON.stringify(body));
    const dead: RecordOwner = { ...me, pid: deadPid };
    const base = { host: 'h1', controller: url };
    write(`lanes-${deadPid}-aa.json`, { ...base, owner: dead, lanes: [entry('L1')] });
    write(`lanes-${me.pid}-bb.json`, { ...base, owner: me, closed: true, lanes: [entry('L2')] });
    write(`lanes-${me.pid}-cc.json`, { ...base, owner: me, lanes: [entry('L3')] });
    write(`lanes-${deadPid}-dd.json`, { ...base, host: 'h2', owner: dead, lanes: [entry('L4')] });
    write(`lanes-${deadPid}-ee.json`, {
      ...base,
      controller: 'http://10.0.0.9:7300',
      owner: dead,
      lanes: [],
    });
    write(`lanes-${deadPid}-ff.json`, { ...base, owner: { ...dead, pid: 0 }, lanes: [entry('L5')] });
    writeFileSync(join(dir, 'lanes-1-00.json'), '{not json');
    const warnings: string[] = [];
    const log: AgentLog = { info() {}, warn: (_o, m) => warnings.push(m), error() {} };

    const records = new EmbeddedLaneRecords(dir, base, log);
    expect(
      records
        .load()
        .map((e) => e.id)
        .sort(),
    ).toEqual(['L1', 'L2']);
    const left = readdirSync(dir).filter((f) => f !== records.path.slice(dir.length + 1));
    expect(left.sort()).toEqual(
      [
        'lanes-1-00.json',
        `lanes-${me.pid}-cc.json`,
        `lanes-${deadPid}-dd.json`,
        `lanes-${deadPid}-ee.json`,
        `lanes-${deadPid}-ff.json`,
      ].sort(),
    );
    // Until released, they are this client's to keep: a crash now still leaves them listed.
    const recorded = JSON.parse(readFileSync(records.path, 'utf8')).lanes as { id: string }[];
    expect(recorded.map((e) => e.id).sort()).toEqual(['L1', 'L2']);
    expect(warnings).toHaveLength(1);
    records.removeEntry(entry('L1'));
    records.close();
    expect(JSON.parse(readFileSync(records.path, 'utf8'))).toMatchObject({
      closed: true,
      lanes: [entry('L2')],
    });
  });
});
