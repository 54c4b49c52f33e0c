import { afterEach, describe, expect, it } from 'vitest';
import { encodeJsonFrame, FrameType } from '../../src/agent/local-api/frames.js';
import { FakeBackend } from '../client/fake-backend.js';
import { errorCode, greetedRawClient, RawClient, serveLocalApi } from '../client/raw-client.js';
import { FdFakeBackend, fdEvent } from './fake-fd-backend.js';
import { until } from './fakes.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const serve = <B extends FakeBackend>(backend: B) => serveLocalApi(backend, cleanups);
const greeted = (path: string) => greetedRawClient(path, cleanups);

describe('local API: failure detector', () => {
  it('fdSubscribe → member table; member changes arrive as FdEvent frames; fdUnsubscribe stops them', async () => {
    const { backend, path } = await serve(new FdFakeBackend());
    const c = await greeted(path);
    const r = await c.request('fdSubscribe', { group: 'g' });
    expect(r).toMatchObject({ ok: true, result: { sub: 1, group: 'g' } });
    const members = (r.result as { members: { member: string; state: string }[] }).members;
    expect(members.map((m) => [m.member, m.state])).toEqual([
      ['h2', 'up'],
      ['h3', 'up'],
    ]);
    backend.pushFd(fdEvent('h2', 'suspect'));
    const f = await c.waitFor((x) => x.type === FrameType.FdEvent);
    expect(f.json).toEqual({ sub: 1, event: fdEvent('h2', 'suspect') });

    expect((await c.request('fdUnsubscribe', { sub: 1 })).ok).toBe(true);
    expect(backend.groupSubscribers('g')).toBe(0);
  });

  it('answers bad requests with stable error codes and keeps the connection', async () => {
    const { path } = await serve(new FdFakeBackend());
    const raw = await RawClient.open(path);
    cleanups.push(() => {
      raw.sock.destroy();
    });
    expect(errorCode(await raw.request('fdSubscribe', { group: 'g' }))).toBe('XL_ERR_VALIDATION'); // no hello
    const c = await greeted(path);
    expect(errorCode(await c.request('fdSubscribe', {}))).toBe('XL_ERR_VALIDATION');
    expect(errorCode(await c.request('fdSubscribe', { group: 42 }))).toBe('XL_ERR_VALIDATION');
    const unknown = await c.request('fdSubscribe', { group: 'nope' });
    expect(errorCode(unknown)).toBe('XL_ERR_NOT_FOUND');
    expect(unknown.error).toMatchObject({ details: { group: 'nope' } });
    expect(errorCode(await c.request('fdUnsubscribe', { sub: 99 }))).toBe('XL_ERR_FORBIDDEN');
    expect(errorCode(await c.request('fdUnsubscribe', { sub: 'x' }))).toBe('XL_ERR_FORBIDDEN');
    // An fd-event frame is agent → client only: sent by a client it is an unknown frame type.
    c.write(encodeJsonFrame(FrameType.FdEvent, { sub: 1, event: {} }));
    const bad = await c.waitFor((f) => f.type === FrameType.Reply && f.json?.id === 0);
    expect(errorCode(bad)).toBe('XL_ERR_VALIDATION');
    expect((await c.request('fdSubscribe', { group: 'g' })).ok).toBe(true);
    expect(c.closed).toBe(false);
  });

  it('an agent without a failure detector says XL_ERR_NOT_FOUND', async () => {
    const { path } = await serve(new FakeBackend());
    const c = await greeted(path);
    const r = await c.request('fdSubscribe', { group: 'g' });
    expect(errorCode(r)).toBe('XL_ERR_NOT_FOUND');
  });

  it('a connection that ends drops its subscriptions', async () => {
    const { backend, api, path } = await serve(new FdFakeBackend());
    const c = await greeted(path);
    await c.request('fdSubscribe', { group: 'g' });
    await c.request('fdSubscribe', { group: 'g' });
    expect(backend.groupSubscribers('g')).toBe(2);
    await c.end();
    await until(
      () => api.connections() === 0 && backend.groupSubscribers('g') === 0,
      'subscriptions dropped',
    );
  });
});
