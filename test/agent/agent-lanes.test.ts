// The agent's own lanes against a REAL in-process controller (FakeEngine): openLane refuses a lane
// its engine could not send on (and leaves nothing admitted), a restarted agent releases the lanes
// its killed predecessor's applications left, log lines carry `host` once, and a refused token is
// reported as the setup error it is.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Agent, type AgentOptions } from '../../src/agent/agent.js';
import type { AgentLog } from '../../src/agent/log.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { type RunningController, startController } from '../../src/controller/server.js';
import { XlaneError } from '../../src/errors.js';
import { EXACT_WINDOWS, testbed } from '../controller/helpers.js';
import { FakeEngine } from './fake-engine.js';
import { PEERS } from './grants.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function controller(token?: string): Promise<RunningController> {
  const c = await startController({
    topology: testbed(),
    dbPath: ':memory:',
    listen: '127.0.0.1:0',
    allocator: EXACT_WINDOWS,
    ...(token ? { token } : {}),
  });
  cleanups.push(() => c.close());
  return c;
}

async function agentFor(host: string, url: string, extra: Partial<AgentOptions> = {}, ready = true) {
  const engine = new FakeEngine();
  const agent = await Agent.start({
    host,
    controller: new ControllerClient({ url }),
    engine,
    peers: PEERS,
    backoff: { initialMs: 20, maxMs: 50 },
    bookWaitMs: 5_000,
    ...extra,
  });
  cleanups.push(() => agent.close());
  if (ready) await agent.ready;
  return { agent, engine };
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1_000; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('never happened');
}

function recording() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const log: AgentLog = { info: at('info'), warn: at('warn'), error: at('error') };
  return { lines, log };
}

const req = (receivers: string[], extra = {}) => ({
  receivers,
  maxPayloadBytes: 64,
  minPeriodNs: 100_000,
  ...extra,
});

describe('openLane on a lane this engine cannot send on', () => {
  it('refuses a receiver without an address before the controller admits anything', async () => {
    const c = await controller();
    const peers = new Map([...PEERS].filter(([h]) => h !== 'h3'));
    const h1 = await agentFor('h1', c.url, { peers });
    await agentFor('h2', c.url);
    await expect(h1.agent.openLane(req(['h2', 'h3']), { waitLiveMs: 5_000 })).rejects.toMatchObject({
      code: 'XL_ERR_VALIDATION',
      message: expect.stringMatching(/no address for receiver\(s\) h3/),
      details: { receivers: ['h3'] },
    });
    expect(await new ControllerClient({ url: c.url }).lanes()).toEqual([]);
    // A lane it can send on still opens live, and sends at once.
    const ok = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    expect(ok.state).toBe('live');
    expect(h1.agent.send(ok.laneId, new Uint8Array(4))).toBe('queued');
  });

  it('closes again at the controller a live lane its engine refused, and says why', async () => {
    const c = await controller();
    const h1 = await agentFor('h1', c.url);
    await agentFor('h2', c.url);
    h1.engine.setSender = (spec) => {
      throw new XlaneError('XL_ERR_KERNEL', `engine refused ${spec.laneId}: no socket`);
    };
    const err = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'XL_ERR_KERNEL',
      message: expect.stringMatching(
        /cannot be sent from h1: engine refused L\d+: no socket; it was closed again/,
      ),
      details: { closed: true },
    });
    expect(await new ControllerClient({ url: c.url }).lanes()).toEqual([]);
  });
});

describe('lanes of local applications across an agent that was killed', () => {
  it('are closed by the next agent on the host; lanes it did not record are left alone', async () => {
    const c = await controller();
    const client = new ControllerClient({ url: c.url });
    const dir = mkdtempSync(join(tmpdir(), 'xlane-applanes-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'agent.sock.app-lanes');
    await agentFor('h2', c.url);

    const first = await agentFor('h1', c.url);
    first.agent.trackAppLanes(file);
    const app = await first.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    const closedByApp = await first.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    await first.agent.closeLane(closedByApp.laneId);
    // Opened for h1 but not through openLane (an operator's, or the failure detector's).
    const operator = (await client.openLane({ sender: 'h1', ...req(['h2']) }, { waitLiveMs: 5_000 })).lane;
    expect(JSON.parse(readFileSync(file, 'utf8')).lanes.map((l: { id: string }) => l.id)).toEqual([
      app.laneId,
    ]);
    // Killed: the engine stops, nothing closes its lanes at the controller.
    await first.agent.close();
    expect((await client.lanes()).map((l) => l.id).sort()).toEqual([app.laneId, operator.id].sort());

    // An entry whose id now names another lane (a controller that lost its state) is not that lane.
    const recorded = JSON.parse(readFileSync(file, 'utf8')) as { lanes: { id: string; createdAt: string }[] };
    recorded.lanes.push({ id: operator.id, createdAt: '2000-01-01T00:00:00.000Z' });
    writeFileSync(file, JSON.stringify(recorded));

    const { lines, log } = recording();
    const second = await agentFor('h1', c.url, { log });
    second.agent.trackAppLanes(file);
    await until(async () => !(await client.lanes()).some((l) => l.id === app.laneId));
    expect((await client.lanes()).map((l) => l.id)).toEqual([operator.id]);
    await until(() => JSON.parse(readFileSync(file, 'utf8')).lanes.length === 0);
    expect(lines.filter((l) => /before this agent last stopped/.test(l.msg)).map((l) => l.obj)).toEqual([
      { lane: app.laneId },
    ]);
  });

  it('survives an unreadable record', async () => {
    const c = await controller();
    const dir = mkdtempSync(join(tmpdir(), 'xlane-applanes-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'agent.sock.app-lanes');
    writeFileSync(file, '{not json');
    const { lines, log } = recording();
    const h1 = await agentFor('h1', c.url, { log });
    h1.agent.trackAppLanes(file);
    expect(lines.some((l) => l.level === 'warn' && /not JSON/.test(l.msg))).toBe(true);
    await agentFor('h2', c.url);
    const lane = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    expect(JSON.parse(readFileSync(file, 'utf8')).lanes.map((l: { id: string }) => l.id)).toEqual([
      lane.laneId,
    ]);
  });
});

describe('a release the controller refuses while the watch stays up', () => {
  it('is retried until the controller takes it, with no reconnect to wait for', async () => {
    const c = await controller();
    const client = new ControllerClient({ url: c.url });
    await agentFor('h2', c.url);
    // A controller whose disk is full answers the watch and refuses the DELETE; its disk comes back.
    const flaky = new ControllerClient({ url: c.url });
    let refusals = 2;
    const closeLane = flaky.closeLane.bind(flaky);
    flaky.closeLane = async (id) => {
      if (refusals-- > 0) throw new XlaneError('XL_ERR_STORE', 'cannot write the lane store: disk full');
      return closeLane(id);
    };
    const { lines, log } = recording();
    const h1 = await agentFor('h1', c.url, { controller: flaky, log });
    const lane = await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    await expect(h1.agent.closeLane(lane.laneId)).rejects.toMatchObject({ code: 'XL_ERR_STORE' });
    expect((await client.lanes()).map((l) => l.id)).toEqual([lane.laneId]);
    await until(async () => (await client.lanes()).length === 0);
    expect(refusals).toBe(-1);
    expect(lines.some((l) => /let go of it while the controller was away/.test(l.msg))).toBe(true);
  });
});

describe('agent log lines', () => {
  it('carry host once, on a logger that binds it (as `xlane agent` does)', async () => {
    const c = await controller();
    const raw: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        raw.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const log = pino({ base: { host: 'h1' } }, sink);
    const h1 = await agentFor('h1', c.url, { log });
    await agentFor('h2', c.url);
    await h1.agent.openLane(req(['h2']), { waitLiveMs: 5_000 });
    await until(() => raw.some((l) => l.includes('watch: in sync with the controller')));
    expect(raw.length).toBeGreaterThan(1);
    for (const line of raw) expect(line.match(/"host":/g)).toHaveLength(1);
  });
});

describe('an agent without the controller token', () => {
  it('says so once, as an error with the fix, and keeps retrying without calling the controller away', async () => {
    const c = await controller('s3cret');
    const { lines, log } = recording();
    const client = new ControllerClient({ url: c.url, token: 'wrong' });
    let attempts = 0;
    const register = client.registerHost.bind(client);
    client.registerHost = (...args) => {
      attempts++;
      return register(...args);
    };
    await agentFor('h1', c.url, { log, controller: client }, false);
    await until(() => attempts >= 4);
    const errors = lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.msg).toMatch(
      /refused this agent's token.*--token, --token-file, XLANE_TOKEN or XLANE_TOKEN_FILE/,
    );
    expect(errors[0]!.obj).toMatchObject({ code: 'XL_ERR_UNAUTHORIZED' });
    expect(lines.filter((l) => /reconnecting|registration failed/.test(l.msg))).toEqual([]);
  });
});
