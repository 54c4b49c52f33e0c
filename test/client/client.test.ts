// The client library over a real Unix socket (and over an in-process backend), against the fake.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type Client,
  connect,
  type LaneMessage,
  type OpenLaneOptions,
  type TimeoutChange,
  XlaneError,
} from '../../src/index.js';
import { FakeBackend } from './fake-backend.js';
import { type Harness, startHarness, until } from './helpers.js';

let h: Harness;
let client: Client;
beforeEach(async () => {
  h = await startHarness();
  client = await connect({ socket: h.socketPath });
});
afterEach(async () => {
  vi.restoreAllMocks();
  client.destroy();
  await h.cleanup();
});

const open = (c = client) => c.openLane({ to: 'h2', maxPayloadBytes: 64, minPeriodNs: 100_000 });

/** Lanes the client's transport still tracks (socket: handle → lane id; in-process: key → entry):
 * internal, but the only place a lane that ended without close() could linger. */
function laneKeysHeld(c: Client): number {
  const t = (c as unknown as { transport: { laneIds?: Map<number, string>; lanes?: Map<number, unknown> } })
    .transport;
  return (t.laneIds ?? t.lanes)!.size;
}

describe('client over the socket', () => {
  it('fails with XL_ERR_CONNECT when no agent listens', async () => {
    await expect(connect({ socket: `${h.dir}/none.sock` })).rejects.toMatchObject({ code: 'XL_ERR_CONNECT' });
  });

  it('opens a lane with its grant and sends; σ_max is checked before the agent sees it', async () => {
    const lane = await open();
    expect(lane.id).toMatch(/^L\d+$/);
    expect(lane.state).toBe('live');
    expect(lane.grant).toMatchObject({ sender: 'h1', maxPayloadBytes: 64, minPeriodNs: 100_000 });
    expect(lane.send(Buffer.from('one'))).toBe('queued');
    expect(await lane.sendAcked(Buffer.from('two'))).toBe('queued');
    expect(() => lane.send(new Uint8Array(65))).toThrow(
      expect.objectContaining({ code: 'XL_ERR_CONTRACT_SIZE' }),
    );
    expect(h.backend.sent.map((s) => Buffer.from(s.payload).toString())).toEqual(['one', 'two']);
    expect((await lane.counters()).sent).toBe(2);
  });

  it("reports the agent's asynchronous rate refusals as 'refused' events", async () => {
    h.backend.enforceRate = true;
    const lane = await client.openLane({ to: 'h2', maxPayloadBytes: 64, minPeriodNs: 1e9 });
    const refused: XlaneError[] = [];
    lane.on('refused', (e) => refused.push(e));
    lane.send(Buffer.from('a'));
    lane.send(Buffer.from('b')); // well inside π_min = 1 s of the first
    await until(() => refused.length === 1, 'refusal');
    expect(refused[0]).toBeInstanceOf(XlaneError);
    expect(refused[0]!.code).toBe('XL_ERR_CONTRACT_RATE');
    await expect(lane.sendAcked(Buffer.from('c'))).rejects.toMatchObject({ code: 'XL_ERR_CONTRACT_RATE' });
  });

  it('surfaces controller errors with their codes', async () => {
    await expect(
      client.openLane({ to: 'nowhere', maxPayloadBytes: 8, minPeriodNs: 1e6 }),
    ).rejects.toMatchObject({
      code: 'XL_ERR_UNKNOWN_HOST',
    });
    await expect(client.listen('L999')).rejects.toMatchObject({ code: 'XL_ERR_UNKNOWN_LANE' });
  });

  it('receives by callback (reused view) and by async iteration (copies)', async () => {
    const remote = h.backend.addRemote('hb');
    const lane = await client.listen('hb');
    expect(lane.role).toBe('receiver');
    expect(() => lane.send(Buffer.from('x'))).toThrow(expect.objectContaining({ code: 'XL_ERR_FORBIDDEN' }));
    const seen: number[] = [];
    lane.onMessage((m) => seen.push(m.seq));
    const got: LaneMessage[] = [];
    const reading = (async () => {
      for await (const m of lane) {
        got.push(m);
        if (got.length === 3) break;
      }
    })();
    for (let i = 1; i <= 3; i++)
      h.backend.deliver(remote.laneId, i, i * 1000, i * 1000 + 77, Buffer.from(`m${i}`));
    await reading;
    expect(seen).toEqual([1, 2, 3]);
    expect(
      got.map((m) => [m.laneId, m.seq, m.sentNs, m.receivedNs, Buffer.from(m.payload).toString()]),
    ).toEqual([
      [remote.laneId, 1, 1000, 1077, 'm1'],
      [remote.laneId, 2, 2000, 2077, 'm2'],
      [remote.laneId, 3, 3000, 3077, 'm3'],
    ]);
  });

  it('fires grant, payloadSizeChanged, periodChanged, timeoutChanged and live', async () => {
    h.backend.initialState = 'pending';
    const lane = await open();
    expect(lane.state).toBe('pending');
    const events: string[] = [];
    const timeouts: TimeoutChange[] = [];
    lane.on('grant', (g, prev) => events.push(`grant ${prev.epoch}->${g.epoch}`));
    lane.on('payloadSizeChanged', (c) => events.push(`size ${c.previous}->${c.maxPayloadBytes}`));
    lane.on('periodChanged', (c) => events.push(`period ${c.previous}->${c.minPeriodNs}`));
    lane.on('timeoutChanged', (t) => timeouts.push(t));
    const live = lane.live();
    const before = lane.grant;
    const r0 = before.receivers[0]!;
    h.backend.changeGrant(
      lane.id,
      {
        maxPayloadBytes: 48,
        minPeriodNs: 200_000,
        receivers: [{ ...r0, lambdaMinNs: 12_000, lambdaMaxNs: 150_000, jitterNs: 138_000 }],
      },
      'live',
    );
    await live;
    expect(lane.state).toBe('live');
    expect(events).toEqual(['grant 1->2', 'size 64->48', 'period 100000->200000']);
    expect(timeouts).toEqual([
      {
        receiver: 'h2',
        lambdaMinNs: 12_000,
        lambdaMaxNs: 150_000,
        previous: { lambdaMinNs: r0.lambdaMinNs, lambdaMaxNs: r0.lambdaMaxNs },
        timeoutNs: 200_000 + 12_000 + 2 * (150_000 - 12_000),
      },
    ]);
    // The new σ_max applies to the next send.
    expect(() => lane.send(new Uint8Array(49))).toThrow(
      expect.objectContaining({ code: 'XL_ERR_CONTRACT_SIZE' }),
    );
  });

  it('close() releases the lane gracefully; the lane ends and its iterator finishes', async () => {
    const lane = await open();
    const reasons: string[] = [];
    lane.on('closed', (r) => reasons.push(r));
    await lane.close();
    expect(h.backend.closedLanes).toEqual([lane.id]);
    expect(lane.state).toBe('closed');
    expect(reasons).toHaveLength(1);
    expect(() => lane.send(Buffer.from('x'))).toThrow(
      expect.objectContaining({ code: 'XL_ERR_UNKNOWN_LANE' }),
    );
    h.backend.addRemote('rx');
    const rx = await client.listen('rx');
    const pending = rx[Symbol.asyncIterator]().next();
    await rx.close();
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  it('listening twice on a lane gives the same Lane, whose iterator still ends when it closes', async () => {
    h.backend.addRemote('rx');
    const first = await client.listen('rx');
    const pending = first[Symbol.asyncIterator]().next();
    const again = await client.listen('rx');
    expect(again).toBe(first);
    expect(client.openLanes).toEqual([first]);
    await again.close();
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  it('destroy(err) ends a lane at once: its iterator rejects with err; the agent still releases it', async () => {
    h.backend.addRemote('rx');
    const rx = await client.listen('rx');
    const pending = rx[Symbol.asyncIterator]().next();
    const boom = new Error('boom');
    rx.destroy(boom);
    await expect(pending).rejects.toBe(boom);
    const lane = await open();
    lane.destroy(boom);
    await until(() => h.backend.closedLanes.includes(lane.id), 'lane released');
  });

  it('a lane opened here refuses onMessage and iteration: it sends, nothing arrives on it', async () => {
    const lane = await open();
    expect(lane.role).toBe('sender');
    const refused = expect.objectContaining({
      code: 'XL_ERR_VALIDATION',
      message: expect.stringMatching(
        /opened here to send to h2, so nothing arrives on it; receive with listen\(\)/,
      ),
    });
    expect(() => lane.onMessage(() => {})).toThrow(refused);
    expect(() => lane[Symbol.asyncIterator]()).toThrow(refused);
  });

  it('openLane without `to` says so before asking the agent', async () => {
    const refused = { code: 'XL_ERR_VALIDATION', message: '`to` is required (a host or a list of hosts)' };
    const asked = vi.spyOn(h.backend, 'openLane');
    for (const to of [undefined, '', [], ['h2', ' ']])
      await expect(
        client.openLane({ to, maxPayloadBytes: 64, minPeriodNs: 100_000 } as unknown as OpenLaneOptions),
      ).rejects.toMatchObject(refused);
    expect(asked).not.toHaveBeenCalled();
  });

  it('client.close() releases every lane; client.destroy() drops the connection and the agent closes them', async () => {
    const a = await open();
    const b = await open();
    await client.close();
    expect(h.backend.closedLanes.sort()).toEqual([a.id, b.id].sort());
    await expect(open()).rejects.toMatchObject({ code: 'XL_ERR_CONNECT' });

    const c2 = await connect({ socket: h.socketPath });
    const l = await open(c2);
    c2.destroy();
    await until(() => h.backend.closedLanes.includes(l.id), 'agent closed the lane of a destroyed client');
    expect(l.state).toBe('closed');
  });

  it('a lane closed by the agent (or the controller) ends with that reason', async () => {
    const lane = await open();
    const reasons: string[] = [];
    lane.on('closed', (r) => reasons.push(r));
    await h.backend.closeLane(lane.id);
    await until(() => reasons.length === 1, 'closed event');
    expect(lane.state).toBe('closed');
  });

  it('a long-lived client that listens to lane after lane closed by their senders holds none of them', async () => {
    const ended: string[] = [];
    for (let i = 0; i < 150; i++) {
      const remote = h.backend.addRemote(`rx${i}`);
      const lane = await client.listen(remote.laneId);
      lane.on('closed', (r) => ended.push(r));
      await h.backend.closeLane(remote.laneId);
      await until(() => lane.state === 'closed', 'closed event');
      await lane.close(); // after the event: nothing to do, and no error
    }
    expect(ended).toHaveLength(150);
    expect(client.openLanes).toEqual([]);
    expect([...h.backend.subs.values()].every((s) => s.size === 0)).toBe(true);
    expect(laneKeysHeld(client)).toBe(0);
  });

  it('the agent going away ends every lane and emits disconnect with why, unlike close()', async () => {
    // The client's own close first: no error.
    const c2 = await connect({ socket: h.socketPath });
    const own: (XlaneError | undefined)[] = [];
    c2.on('disconnect', (err) => own.push(err));
    await c2.close();
    await until(() => own.length === 1, 'own disconnect');
    expect(own).toEqual([undefined]);

    const lane = await open();
    h.backend.addRemote('rx');
    const rx = await client.listen('rx');
    const disconnects: (XlaneError | undefined)[] = [];
    client.on('disconnect', (err) => disconnects.push(err));
    const reasons: string[] = [];
    for (const l of [lane, rx]) l.on('closed', (r) => reasons.push(r));
    // Caught at once: the rejection comes while the test waits for the disconnect.
    const pending = rx[Symbol.asyncIterator]()
      .next()
      .then(
        (r) => r,
        (err: unknown) => err,
      );
    await h.api.close();
    await until(() => disconnects.length === 1, 'disconnect');
    const gone = { code: 'XL_ERR_CONNECT', message: 'the agent closed the connection' };
    expect(disconnects[0]).toBeInstanceOf(XlaneError);
    expect(disconnects[0]).toMatchObject(gone);
    expect(reasons).toEqual(['the agent closed the connection', 'the agent closed the connection']);
    expect(await pending).toMatchObject(gone);
    expect(lane.state).toBe('closed');
    expect(() => lane.send(Buffer.from('x'))).toThrow(XlaneError);
  });
});

describe('client over an in-process backend', () => {
  it('lets go of lanes closed by their senders while the client stays', async () => {
    const backend = new FakeBackend();
    const c = await connect({ backend });
    for (let i = 0; i < 150; i++) {
      const remote = backend.addRemote(`rx${i}`);
      const lane = await c.listen(remote.laneId);
      await backend.closeLane(remote.laneId);
      expect(lane.state).toBe('closed');
    }
    expect(c.openLanes).toEqual([]);
    expect([...backend.subs.values()].every((s) => s.size === 0)).toBe(true);
    expect(laneKeysHeld(c)).toBe(0);
    await c.close();
  });

  it('sends synchronously through the backend, with its errors thrown in place', async () => {
    const backend = new FakeBackend();
    backend.enforceRate = true;
    const c = await connect({ backend });
    expect(c.mode).toBe('embedded');
    const lane = await c.openLane({ to: 'h2', maxPayloadBytes: 16, minPeriodNs: 1e9 });
    expect(lane.send(Buffer.from('a'))).toBe('queued');
    expect(() => lane.send(Buffer.from('b'))).toThrow(
      expect.objectContaining({ code: 'XL_ERR_CONTRACT_RATE' }),
    );
    await c.close();
    expect(backend.closedLanes).toEqual([lane.id]);
  });
});
