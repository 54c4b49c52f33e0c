// client.failureDetector(group) in both modes — over the agent's Unix socket and in-process on a
// LocalBackend (the embedded mode's transport) — against a fake backend driven by hand.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalApi } from '../../src/agent/local-api/server.js';
import { connect } from '../../src/client/connect.js';
import { FdFakeBackend, fdEvent } from '../fd/fake-fd-backend.js';
import { until } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Mode = 'socket' | 'embedded';

async function clientOn(mode: Mode, backend: FdFakeBackend) {
  if (mode === 'embedded') {
    const client = await connect({ backend });
    cleanups.push(() => client.close());
    return { client, stopAgent: async () => client.destroy() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'xlane-fdclient-'));
  const socketPath = join(dir, 'agent.sock');
  const api = await startLocalApi({ socketPath, backend });
  let stopped = false;
  const stopAgent = async () => {
    if (!stopped) await api.close();
    stopped = true;
  };
  cleanups.push(async () => {
    await stopAgent();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = await connect({ socket: socketPath });
  cleanups.push(() => client.close());
  return { client, stopAgent };
}

describe.each<Mode>(['socket', 'embedded'])('client.failureDetector (%s)', (mode) => {
  it('starts from the member table and follows changes as events and as an async iterator', async () => {
    const backend = new FdFakeBackend();
    const { client } = await clientOn(mode, backend);
    const fd = await client.failureDetector('g');
    expect(fd.group).toBe('g');
    expect(fd.members.map((m) => [m.member, m.state])).toEqual([
      ['h2', 'up'],
      ['h3', 'up'],
    ]);
    const seen: string[] = [];
    fd.on('change', (e) => seen.push(`change ${e.member} ${e.state}`));
    fd.on('suspect', (e) => seen.push(`suspect ${e.member}`));
    fd.on('down', (e) => seen.push(`down ${e.member}`));
    const it = fd[Symbol.asyncIterator]();

    backend.pushFd(fdEvent('h3', 'suspect', { detectedNs: 5_000 }));
    backend.pushFd(fdEvent('h3', 'down', { detectedNs: 9_000 }));
    const first = await it.next();
    expect(first.value).toEqual(fdEvent('h3', 'suspect', { detectedNs: 5_000 }));
    expect((await it.next()).value).toMatchObject({ member: 'h3', state: 'down' });
    expect(seen).toEqual(['change h3 suspect', 'suspect h3', 'change h3 down', 'down h3']);
    expect(fd.member('h3')).toMatchObject({
      state: 'down',
      suspicions: 1,
      downs: 1,
      detectedNs: 9_000,
      lastDetectionNs: 9_000,
      laneId: 'L2',
    });
    expect(fd.member('h2')?.state).toBe('up');
  });

  it('loses no event pushed right after the subscription', async () => {
    const backend = new FdFakeBackend();
    backend.immediate = fdEvent('h2', 'suspect');
    const { client } = await clientOn(mode, backend);
    const fd = await client.failureDetector('g');
    await until(() => fd.member('h2')?.state === 'suspect', 'first event applied');
  });

  it('rejects a group the agent does not run with XL_ERR_NOT_FOUND', async () => {
    const { client } = await clientOn(mode, new FdFakeBackend());
    await expect(client.failureDetector('nope')).rejects.toMatchObject({
      name: 'XlaneError',
      code: 'XL_ERR_NOT_FOUND',
    });
  });

  it('close() ends the subscription at the agent and finishes iterators', async () => {
    const backend = new FdFakeBackend();
    const { client } = await clientOn(mode, backend);
    const fd = await client.failureDetector('g');
    const it = fd[Symbol.asyncIterator]();
    const pending = it.next();
    let closed = '';
    fd.on('closed', (r) => {
      closed = r;
    });
    await fd.close();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(closed).toBe('closed by the application');
    await until(() => backend.groupSubscribers('g') === 0, 'unsubscribed');
    expect(fd.closed).toBe(true);
  });

  it('ends when the agent goes away', async () => {
    const backend = new FdFakeBackend();
    const { client, stopAgent } = await clientOn(mode, backend);
    const fd = await client.failureDetector('g');
    const it = fd[Symbol.asyncIterator]();
    // The iterator ends (done, or rejected with the connection's error): it must not hang. Caught
    // at once: the rejection may come while stopAgent() is still running.
    const pending = it.next().catch(() => undefined);
    await stopAgent();
    await pending;
    expect(fd.closed).toBe(true);
  });
});
