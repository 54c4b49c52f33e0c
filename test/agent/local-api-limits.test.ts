// What the local API refuses or holds back, over a real Unix socket against a fake backend: a
// client that writes and never reads is paused (its replies are bounded, nothing is lost once it
// reads), `open` checks waitLiveMs and refuses fields it does not know (a `sender` above all), and
// the socket file never exists with looser permissions than 0660.
import { lstatSync } from 'node:fs';
import { Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LocalLane } from '../../src/agent/local-api/backend.js';
import { Deframer } from '../../src/agent/local-api/deframer.js';
import { encodeSendFrame, FrameType } from '../../src/agent/local-api/frames.js';
import { LocalSession } from '../../src/agent/local-api/session.js';
import type { LaneRequest } from '../../src/alloc/types.js';
import { FakeBackend } from '../client/fake-backend.js';
import { errorCode, greetedRawClient, serveLocalApi } from '../client/raw-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Remembers the waitLiveMs each open was given. */
class WaitBackend extends FakeBackend {
  readonly waits: (number | undefined)[] = [];
  override async openLane(
    request: Omit<LaneRequest, 'sender'>,
    opts?: { waitLiveMs?: number },
  ): Promise<LocalLane> {
    this.waits.push(opts?.waitLiveMs);
    return super.openLane(request);
  }
}

const serve = (opts: { highWaterBytes?: number } = {}) => serveLocalApi(new WaitBackend(), cleanups, opts);
const greeted = (path: string) => greetedRawClient(path, cleanups);

const request = { receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 100_000 };

describe('local API: replies to a client that does not read', () => {
  it('the session asks to pause input once a reply takes the backlog past the limit, not before', () => {
    const LIMIT = 1_000;
    let backlog = 0;
    let pauses = 0;
    const session = new LocalSession(
      new FakeBackend(),
      {
        write: (f) => {
          backlog += f.length;
        },
        backlog: () => backlog,
        end: () => {},
        pauseInput: () => {
          pauses++;
        },
      },
      { maxFrameBytes: 4096, highWaterBytes: LIMIT },
    );
    // A send for a handle the client does not own: one error reply each.
    const bad = encodeSendFrame(1, 42, new Uint8Array(0));
    let frames = 0;
    while (backlog <= LIMIT) {
      expect(pauses).toBe(0);
      session.data(bad);
      frames++;
    }
    expect(frames).toBeGreaterThan(1);
    expect(pauses).toBe(1);
  });

  it('stops reading a flooding client until it reads, loses none of its replies, and serves others meanwhile', async () => {
    const LIMIT = 64 * 1024;
    const { backend, path } = await serve({ highWaterBytes: LIMIT });
    const opener = await greeted(path);
    const opened = (await opener.request('open', { request })) as { result: { handle: number } };
    // The flooder is the same connection as the opener (it owns the lane), now reading nothing.
    const flood: Socket = opener.sock;
    flood.removeAllListeners('data');
    flood.pause();
    // Several times what the kernel socket buffers and LIMIT hold before the pause, and no more: the
    // suite runs next to namespace benches that a longer flood would starve.
    const N = 30_000;
    const frame = encodeSendFrame(1, opened.result.handle, new Uint8Array([7]));
    const all = Buffer.alloc(frame.length * N);
    for (let i = 0; i < N; i++) frame.copy(all, i * frame.length);
    flood.write(all);

    // Wait until the agent stops taking sends (no progress for 300 ms). Without a pause it takes
    // every one of them, whose replies then pile up in its memory.
    let last = -1;
    let still = 0;
    for (let i = 0; i < 1_000 && still < 30; i++) {
      await new Promise((r) => setTimeout(r, 10));
      still = backend.sent.length === last ? still + 1 : 0;
      last = backend.sent.length;
    }
    expect(backend.sent.length).toBeLessThan(N);
    expect(backend.sent.length).toBeGreaterThan(0);

    // Another client is answered at once.
    const other = await greeted(path);
    expect((await other.request('open', { request })).ok).toBe(true);

    // The flooder reads: every send is taken and every reply arrives.
    let replies = 0;
    const d = new Deframer(1 << 20);
    const done = new Promise<void>((resolve) => {
      flood.on('data', (c: Buffer) =>
        d.push(c, (r) => {
          if (r.kind === 'frame' && r.body[0] === FrameType.Reply && ++replies === N) resolve();
        }),
      );
    });
    flood.resume();
    await done;
    expect(backend.sent.length).toBe(N);
  }, 30_000);
});

describe('local API: open', () => {
  it.each([[1e12], [0.5], [-1], [300_001], ['5000'], [null]])(
    'refuses waitLiveMs %j with XL_ERR_VALIDATION naming it, without asking the backend',
    async (wait) => {
      const { backend, path } = await serve();
      const c = await greeted(path);
      const r = (await c.request('open', { request, waitLiveMs: wait })) as {
        error: { message: string; details: { field: string } };
      };
      expect(errorCode(r)).toBe('XL_ERR_VALIDATION');
      expect(r.error.message).toMatch(/waitLiveMs/);
      expect(r.error.details.field).toBe('waitLiveMs');
      expect(backend.waits).toEqual([]);
    },
  );

  it('passes waitLiveMs 0..300000 on, and none when absent', async () => {
    const { backend, path } = await serve();
    const c = await greeted(path);
    for (const waitLiveMs of [0, 300_000])
      expect((await c.request('open', { request, waitLiveMs })).ok).toBe(true);
    expect((await c.request('open', { request })).ok).toBe(true);
    expect(backend.waits).toEqual([0, 300_000, undefined]);
  });

  it('refuses a request naming a sender, or with a field it does not know', async () => {
    const { backend, path } = await serve();
    const c = await greeted(path);
    const withSender = (await c.request('open', { request: { ...request, sender: 'h3' } })) as {
      error: { message: string; details: unknown };
    };
    expect(errorCode(withSender)).toBe('XL_ERR_VALIDATION');
    expect(withSender.error.message).toMatch(/sender/);
    const typo = (await c.request('open', { request: { ...request, maxPayload: 64 } })) as {
      error: { message: string; details: unknown };
    };
    expect(errorCode(typo)).toBe('XL_ERR_VALIDATION');
    expect(typo.error.details).toEqual({ fields: ['maxPayload'] });
    expect(backend.lanes.size).toBe(0);
    const full = {
      ...request,
      name: 'x',
      deadlineNs: 1e6,
      minPayloadBytes: 8,
      maxPeriodNs: 2e5,
      policy: 'reject',
    };
    expect((await c.request('open', { request: full })).ok).toBe(true);
  });
});

describe('local API socket file', () => {
  it('is created 0660 by listen itself, not chmod-ed there afterwards', async () => {
    const modes: number[] = [];
    const listen = Server.prototype.listen;
    vi.spyOn(Server.prototype, 'listen').mockImplementation(function (this: Server, ...args: unknown[]) {
      const out = (listen as (...a: unknown[]) => Server).apply(this, args);
      // bind(2) has happened inside listen: this is the file as it first exists.
      if (typeof args[0] === 'string') modes.push(lstatSync(args[0]).mode & 0o777);
      return out;
    });
    const umask = process.umask(0o022);
    let after: number;
    try {
      await serve();
    } finally {
      // The process umask is the caller's again.
      after = process.umask(umask);
    }
    expect(modes).toEqual([0o660]);
    expect(after).toBe(0o022);
  });
});
