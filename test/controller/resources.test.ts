// What the controller holds for its clients must stay bounded under days of churn: a watch consumer
// that stops reading (a stopped agent, a broken client) is let go however much it still sends, and
// a client that gives up on ?wait=live leaves nothing waiting behind.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type WebSocket from 'ws';
import { controllerHarness, lane, makeApp } from './helpers.js';
import type { TestWatch } from './watch-client.js';

const { start, watch, cleanup } = controllerHarness();
afterEach(cleanup);

/** Polls `check` until it holds or `ms` pass; the caller asserts on the result. */
async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/** Stops reading the socket, as a stopped agent does: the kernel buffers fill, then the server's. */
function stopReading(w: TestWatch): void {
  // ws keeps the net.Socket in _socket; pausing it is the only way to stop reading from a client.
  (w.ws as unknown as { _socket: Socket })._socket.pause();
}

describe('watch hub resources', () => {
  it('closes a socket that keeps sending but never answers a ping', async () => {
    const { c, client } = await start({ heartbeatMs: 30 });
    const w = await watch(client.watchUrl('h1'), { autoPong: false });
    w.send({ type: 'hello', host: 'h1' });
    await w.next('snapshot');
    // Valid messages every 10 ms prove the path works, not that the client reads what it is sent.
    const chatter = setInterval(() => w.send({ type: 'ack', version: 0 }), 10);
    try {
      const gone = await within(2000, () => c.hub.connectionCount === 0);
      expect(gone).toBe(true);
      expect((await client.hosts()).find((h) => h.name === 'h1')!.connected).toBe(false);
    } finally {
      clearInterval(chatter);
    }
  });

  it('closes a consumer that does not read once maxBufferedBytes are unsent, and serves the next', async () => {
    // The heartbeat is out of reach: only the buffer limit can act here.
    const { c, client } = await start({ heartbeatMs: 600_000, watchMaxBufferedBytes: 64 * 1024 });
    for (let i = 0; i < 20; i++) await client.openLane(lane('h1', ['h2'], { minPeriodNs: 10_000_000 }));
    const w = await watch(client.watchUrl('h2'));
    stopReading(w);
    // Every hello is answered with a full snapshot (~10 KB here): 8,000 of them are ~80 MB, far
    // beyond what loopback's kernel buffers absorb. Without the limit all of it would wait in the
    // controller's memory for a reader that never comes.
    let sent = 0;
    const gone = await within(4000, async () => {
      for (let i = 0; i < 200 && sent < 8000; i++, sent++) w.send({ type: 'hello', host: 'h2' });
      await new Promise((r) => setImmediate(r));
      return c.hub.connectionCount === 0;
    });
    expect(gone).toBe(true);
    // A consumer that reads gets its snapshot as before.
    const fresh = await watch(client.watchUrl('h2'));
    fresh.send({ type: 'hello', host: 'h2' });
    expect(((await fresh.next('snapshot')).grants as unknown[]).length).toBe(20);
    expect(c.hub.connectionCount).toBe(1);
  });
});

/** Just enough of a ws socket for the hub, with the unsent byte count under the test's control. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: { type: string }[] = [];
  terminated = false;
  send(text: string): void {
    this.sent.push(JSON.parse(text) as { type: string });
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
    this.emit('close');
  }
  ping(): void {}
}

describe('watch hub buffer limit', () => {
  it('closes a socket at the next message once more than the limit waits unsent, or four of its snapshots', async () => {
    const { app, hub, lifecycle } = await makeApp({ watchMaxBufferedBytes: 1000 });
    try {
      for (let i = 0; i < 3; i++) lifecycle.openLane(lane('h1', ['h2']));
      const socket = new FakeSocket();
      hub.attach(socket as unknown as WebSocket, 'h2');
      socket.emit('message', Buffer.from(JSON.stringify({ type: 'hello', host: 'h2' })), false);
      const snapshotBytes = JSON.stringify(socket.sent[0]).length;
      expect(snapshotBytes).toBeGreaterThan(1000);
      // A big host's reader may be behind by a few of its own snapshots: not cut for that.
      socket.bufferedAmount = 3 * snapshotBytes;
      lifecycle.openLane(lane('h3', ['h2']));
      expect(socket.terminated).toBe(false);
      expect(socket.sent.map((m) => m.type)).toEqual(['snapshot', 'update']);
      socket.bufferedAmount = 5 * snapshotBytes;
      lifecycle.openLane(lane('h3', ['h2']));
      expect(socket.terminated).toBe(true);
      expect(socket.sent).toHaveLength(2);
      expect(hub.connectionCount).toBe(0);
    } finally {
      await app.close();
    }
  });
});

describe('?wait=live resources', () => {
  it('a client that gives up leaves no wait behind', async () => {
    const { c, client } = await start();
    // h2 registered and never acking: every lane towards it stays pending.
    await client.registerHost('h2');
    const ac = new AbortController();
    const asked = fetch(`${c.url}/v1/lanes?wait=live&timeoutMs=60000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(lane('h1', ['h2'])),
      signal: ac.signal,
    }).catch(() => 'aborted');
    expect(await within(2000, () => c.lifecycle.pendingWaits === 1)).toBe(true);
    ac.abort();
    expect(await asked).toBe('aborted');
    // Without the abort it would hold its listener, timer and request for the whole 60 s.
    expect(await within(2000, () => c.lifecycle.pendingWaits === 0)).toBe(true);
    expect((await client.lanes()).map((l) => l.state)).toEqual(['pending']);
  });

  it('a wait that ends normally is counted out too', async () => {
    const { c, client } = await start();
    await client.registerHost('h2');
    const opened = await client.openLane(lane('h1', ['h2']), { waitLiveMs: 50 });
    expect(opened.lane.state).toBe('pending');
    expect(c.lifecycle.pendingWaits).toBe(0);
  });
});

describe('HTTP request timeout', () => {
  /** Sends the start of a request and nothing more; resolves with what the server said when it closed. */
  function stall(url: string, head: string): Promise<string> {
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => {
      answer += d.toString();
    });
    socket.on('error', () => {});
    socket.write(head);
    return new Promise((resolve) => socket.on('close', () => resolve(answer)));
  }

  it('a body that stops coming is answered 408 XL_ERR_TIMEOUT and its socket closed', async () => {
    const { c } = await start({ requestTimeoutMs: 400 });
    const closed = stall(
      c.url,
      'POST /v1/lanes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"sen',
    );
    // fastify's default (no request timeout) would keep this socket open for as long as the client.
    const answer = await Promise.race([
      closed,
      new Promise<string>((r) => setTimeout(() => r('still open'), 3000)),
    ]);
    expect(answer).toMatch(/^HTTP\/1.1 408 /);
    expect(answer).toContain('"code":"XL_ERR_TIMEOUT"');
  });

  it('covers receiving a request, not answering it: a ?wait=live longer than it still answers', async () => {
    const { c, client } = await start({ requestTimeoutMs: 400 });
    await client.registerHost('h2');
    const opened = await client.openLane(lane('h1', ['h2']), { waitLiveMs: 1500 });
    expect(opened.lane.state).toBe('pending');
    const w = await watch(client.watchUrl('h2'));
    await new Promise((r) => setTimeout(r, 1000));
    w.send({ type: 'hello', host: 'h2' });
    expect((await w.next('snapshot')).type).toBe('snapshot');
    expect(c.hub.connectionCount).toBe(1);
  });
});

describe('GET /v1/health', () => {
  it('counts the lanes without building a view of each (monitoring polls it)', async () => {
    const { app, lifecycle } = await makeApp();
    try {
      for (let i = 0; i < 3; i++) lifecycle.openLane(lane('h1', ['h2']));
      const listed = vi.spyOn(lifecycle, 'listLanes');
      const res = await app.inject({ method: 'GET', url: '/v1/health' });
      expect(res.json()).toMatchObject({ status: 'ok', lanes: 3, hosts: 3 });
      // 5 ms per probe at 5,000 lanes when it did, against 1 ms for GET /v1/hosts.
      expect(listed).not.toHaveBeenCalled();
    } finally {
      await app.close();
    }
  });
});
