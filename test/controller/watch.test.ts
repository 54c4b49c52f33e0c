// The watch stream over a real listen on 127.0.0.1 with a real WebSocket client: snapshot, updates
// on admission, ack → live, reconnect → resync, errors that keep the connection, dead agents.
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerClient } from '../../src/client/controller-client.js';
import type { RunningController } from '../../src/controller/server.js';
import { lane, startTestController } from './helpers.js';
import { type Message, TestWatch } from './watch-client.js';

const running: RunningController[] = [];
const sockets: TestWatch[] = [];
async function start(opts: { token?: string; heartbeatMs?: number } = {}) {
  const c = await startTestController(opts);
  running.push(c);
  return { c, client: new ControllerClient({ url: c.url, ...(opts.token ? { token: opts.token } : {}) }) };
}
async function watch(url: string, opts = {}) {
  const w = await TestWatch.open(url, opts);
  sockets.push(w);
  return w;
}
afterEach(async () => {
  for (const s of sockets.splice(0)) await s.close();
  for (const c of running.splice(0)) await c.close();
});

const ids = (m: Message) => (m.grants as { laneId: string; state: string }[]).map((g) => [g.laneId, g.state]);

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 10));
}

describe('watch stream', () => {
  it('snapshot, update on admission, ack drives pending → live, reconnect resyncs', async () => {
    const { client } = await start();
    await client.registerHost('h2', { agentVersion: 'test' });
    const h2 = await watch(client.watchUrl('h2'));
    h2.send({ type: 'hello', host: 'h2' });
    expect(await h2.next('snapshot')).toMatchObject({ version: 0, grants: [] });

    // h2 is a registered receiver of A: A may send only once h2 holds its grant
    const a = (await client.openLane(lane('h1', ['h2']))).lane;
    expect(a).toMatchObject({ state: 'pending', pendingHosts: ['h2'] });
    const u1 = await h2.next('update');
    expect(u1).toMatchObject({ version: 1, removed: [] });
    expect(ids(u1)).toEqual([[a.id, 'pending']]);
    h2.send({ type: 'ack', version: 1 });
    const aLive = await h2.next('update');
    expect(aLive.version).toBe(2);
    expect(ids(aLive)).toEqual([[a.id, 'live']]);
    expect((await client.lane(a.id)).state).toBe('live');
    h2.send({ type: 'ack', version: aLive.version });
    await until(async () => (await client.hosts()).find((h) => h.name === 'h2')!.ackedVersion === 2);

    // B widens A's window at s1→h2: h2 (registered receiver of A) must ack before B may send
    const opened = await client.openLane(lane('h3', ['h2']));
    const b = opened.lane;
    expect(opened.changed.map((c) => c.laneId)).toEqual([a.id]);
    expect(b).toMatchObject({ state: 'pending', pendingHosts: ['h2'] });
    const u2 = await h2.next('update');
    expect(u2.version).toBe(3);
    expect(ids(u2).sort()).toEqual([
      [a.id, 'live'],
      [b.id, 'pending'],
    ]);
    const widened = (u2.grants as { laneId: string; receivers: { lambdaMaxNs: number }[] }[]).find(
      (g) => g.laneId === a.id,
    )!;
    expect(widened.receivers[0]!.lambdaMaxNs).toBeGreaterThan(a.grant.receivers[0]!.lambdaMaxNs);
    expect((await client.lane(b.id)).state).toBe('pending');

    h2.send({ type: 'ack', version: 3 });
    const u3 = await h2.next('update');
    expect(ids(u3)).toEqual([[b.id, 'live']]);
    expect((await client.lane(b.id)).state).toBe('live');
    h2.send({ type: 'ack', version: u3.version });
    await until(async () => (await client.hosts()).find((h) => h.name === 'h2')!.ackedVersion === u3.version);
    expect((await client.hosts()).find((h) => h.name === 'h2')).toMatchObject({
      registered: true,
      connected: true,
    });

    // a reconnect always gets the full state
    await h2.close();
    await until(async () => !(await client.hosts()).find((h) => h.name === 'h2')!.connected);
    const again = await watch(client.watchUrl('h2'));
    again.send({ type: 'hello', host: 'h2', version: 1 });
    const snap = await again.next('snapshot');
    expect(snap.version).toBe(u3.version);
    expect(ids(snap).sort()).toEqual([
      [a.id, 'live'],
      [b.id, 'live'],
    ]);
    expect(snap.grants).toEqual((await client.grants('h2')).grants);

    // release: removal and loosened window are pushed
    await client.closeLane(b.id);
    const u4 = await again.next('update');
    expect(u4.removed).toEqual([b.id]);
    expect(ids(u4)).toEqual([[a.id, 'live']]);
  });

  it('the sender learns its lane went live from its own stream, and ?wait=live returns then', async () => {
    const { client } = await start();
    await client.registerHost('h2');
    await client.openLane(lane('h1', ['h2']));
    const h2 = await watch(client.watchUrl('h2'));
    h2.send({ type: 'hello', host: 'h2' });
    await h2.next('snapshot');
    const h3 = await watch(client.watchUrl('h3'));
    h3.send({ type: 'hello', host: 'h3' });
    await h3.next('snapshot');

    const opening = client.openLane(lane('h3', ['h2']), { waitLiveMs: 20_000 });
    const u = await h2.next('update');
    const pendingAtSender = await h3.next('update');
    expect(ids(pendingAtSender)[0]?.[1]).toBe('pending');
    h2.send({ type: 'ack', version: u.version });
    const liveAtSender = await h3.next('update');
    expect(ids(liveAtSender)[0]?.[1]).toBe('live');
    expect((await opening).lane.state).toBe('live');
  });

  it('answers malformed messages with an error and keeps the connection', async () => {
    const { client } = await start();
    const w = await watch(client.watchUrl('h1'));
    w.send('not json');
    expect(await w.next('error')).toMatchObject({ code: 'XL_ERR_BAD_JSON' });
    w.send({ type: 'ack', version: 0 });
    expect(await w.next('error')).toMatchObject({
      code: 'XL_ERR_VALIDATION',
      message: expect.stringMatching(/hello/),
    });
    w.send({ type: 'hello', host: 'h2' });
    expect(await w.next('error')).toMatchObject({ code: 'XL_ERR_VALIDATION' });
    w.send({ type: 'dance' });
    // What is expected, not TypeBox's "Expected union value".
    expect(await w.next('error')).toEqual({
      type: 'error',
      code: 'XL_ERR_VALIDATION',
      message: "expected {type:'hello', host, version?} or {type:'ack', version}",
    });
    w.send({ type: 'hello', host: 'h1' });
    expect(await w.next('snapshot')).toMatchObject({ version: 0 });
    w.send({ type: 'ack', version: 7 });
    expect(await w.next('error')).toMatchObject({ code: 'XL_ERR_VALIDATION' });
  });

  it('refuses unknown hosts before the upgrade, and needs the token when one is set', async () => {
    const { client, c } = await start({ token: 'tok' });
    await expect(watch(client.watchUrl('h9'), { headers: client.authHeaders() })).rejects.toThrow(/404/);
    await expect(watch(`${c.url.replace('http', 'ws')}/v1/watch?host=h1`)).rejects.toThrow(/401/);
    const ok = await watch(client.watchUrl('h1'), { headers: client.authHeaders() });
    ok.send({ type: 'hello', host: 'h1' });
    expect((await ok.next('snapshot')).type).toBe('snapshot');
  });

  it('notices an agent that stopped answering pings', async () => {
    const { client } = await start({ heartbeatMs: 30 });
    const w = await watch(client.watchUrl('h1'), { autoPong: false });
    w.send({ type: 'hello', host: 'h1' });
    await w.next('snapshot');
    expect((await client.hosts()).find((h) => h.name === 'h1')!.connected).toBe(true);
    await until(async () => !(await client.hosts()).find((h) => h.name === 'h1')!.connected);
  });
});
