// The local API at the frame level, over a real Unix socket, against a fake backend.
import { execFileSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeJsonFrame,
  encodeSendFrame,
  FrameType,
  LOCAL_API_VERSION,
} from '../../src/agent/local-api/frames.js';
import { startLocalApi } from '../../src/agent/local-api/server.js';
import { connect } from '../../src/client/connect.js';
import { FakeBackend } from './fake-backend.js';
import { type Harness, startHarness, until } from './helpers.js';
import { errorCode, RawClient } from './raw-client.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ maxFrameBytes: 4096 });
});
afterEach(async () => {
  await h.cleanup();
});

const request = { receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 100_000 };

async function greeted(): Promise<RawClient> {
  const c = await RawClient.open(h.socketPath);
  const r = await c.request('hello', { version: LOCAL_API_VERSION });
  expect(r.ok).toBe(true);
  return c;
}

describe('local API socket', () => {
  it('creates the socket file with mode 0660', () => {
    expect(statSync(h.socketPath).isSocket()).toBe(true);
    expect(statSync(h.socketPath).mode & 0o777).toBe(0o660);
  });

  it('refuses requests before hello, and a hello of another version', async () => {
    const c = await RawClient.open(h.socketPath);
    expect(errorCode(await c.request('open', { request }))).toBe('XL_ERR_VALIDATION');
    expect(errorCode(await c.request('hello', { version: 99 }))).toBe('XL_ERR_VALIDATION');
    expect((await c.request('hello', { version: LOCAL_API_VERSION })).ok).toBe(true);
    await c.end();
  });

  it('opens a lane, sends binary frames, reads counters', async () => {
    const c = await greeted();
    const r = (await c.request('open', { request })) as {
      ok: boolean;
      result: { handle: number; lane: { laneId: string } };
    };
    expect(r.ok).toBe(true);
    const { handle, lane } = r.result;
    c.write(encodeSendFrame(0, handle, Buffer.from('hello')));
    c.write(encodeSendFrame(7, handle, Buffer.from('world')));
    const ack = await c.waitFor((f) => f.type === FrameType.Reply && f.json?.id === 7);
    expect(ack.json).toEqual({ id: 7, ok: true, result: { outcome: 'queued' } });
    expect(h.backend.sent.map((s) => Buffer.from(s.payload).toString())).toEqual(['hello', 'world']);
    expect(h.backend.sent.every((s) => s.laneId === lane.laneId)).toBe(true);
    const counters = (await c.request('counters', { lane: handle })) as { result: { sent: number } };
    expect(counters.result.sent).toBe(2);
    await c.end();
  });

  it('passes backend errors through with their code', async () => {
    const c = await greeted();
    expect(errorCode(await c.request('open', { request: { ...request, receivers: ['nowhere'] } }))).toBe(
      'XL_ERR_UNKNOWN_HOST',
    );
    expect(errorCode(await c.request('listen', { lane: 'L404' }))).toBe('XL_ERR_UNKNOWN_LANE');
    await c.end();
  });

  it('pushes deliveries (binary) and events for a lane it listens on', async () => {
    const remote = h.backend.addRemote('hb');
    const c = await greeted();
    const r = (await c.request('listen', { lane: 'hb' })) as { result: { handle: number } };
    const handle = r.result.handle;
    h.backend.deliver(remote.laneId, 42, 1_000_000_123, 1_000_050_456, Buffer.from('ping'));
    const d = await c.waitFor((f) => f.type === FrameType.Delivery);
    const dv = new DataView(d.body.buffer, d.body.byteOffset, d.body.length);
    expect(dv.getUint32(1)).toBe(handle);
    expect([dv.getFloat64(5), dv.getFloat64(13), dv.getFloat64(21)]).toEqual([
      42, 1_000_000_123, 1_000_050_456,
    ]);
    expect(Buffer.from(d.body.subarray(29)).toString()).toBe('ping');
    h.backend.changeGrant(remote.laneId, { maxPayloadBytes: 32 });
    const ev = await c.waitFor((f) => f.type === FrameType.Event);
    expect(ev.json).toMatchObject({ handle, event: { type: 'grant', grant: { maxPayloadBytes: 32 } } });
    await c.end();
  });

  it('sends the kernel receive stamp only to a client whose hello asked for it', async () => {
    const remote = h.backend.addRemote('hb');
    const asked = await RawClient.open(h.socketPath);
    // Unknown features are ignored, not refused: a newer client may ask for more than this agent has.
    const hello = await asked.request('hello', {
      version: LOCAL_API_VERSION,
      features: ['kernelStamp', 'later'],
    });
    expect(hello).toMatchObject({ ok: true, result: { features: ['kernelStamp'] } });
    const plain = await greeted();
    const handles = [];
    for (const c of [asked, plain])
      handles.push(
        ((await c.request('listen', { lane: 'hb' })) as { result: { handle: number } }).result.handle,
      );
    h.backend.deliver(remote.laneId, 7, 1_000, 1_500, Buffer.from('ping'), 1_200);
    const d = await asked.waitFor((f) => f.type === FrameType.DeliveryStamped);
    const dv = new DataView(d.body.buffer, d.body.byteOffset, d.body.length);
    expect(dv.getUint32(1)).toBe(handles[0]);
    expect([dv.getFloat64(5), dv.getFloat64(13), dv.getFloat64(21), dv.getFloat64(29)]).toEqual([
      7, 1_000, 1_500, 1_200,
    ]);
    expect(Buffer.from(d.body.subarray(37)).toString()).toBe('ping');
    // A client that did not ask (an older library) keeps getting the v1 frame it can read.
    const p = await plain.waitFor((f) => f.type === FrameType.Delivery);
    expect(p.body.length).toBe(29 + 4);
    expect(plain.frames.some((f) => f.type === FrameType.DeliveryStamped)).toBe(false);
    await asked.end();
    await plain.end();
  });

  it('forbids lanes the connection did not open or listen on', async () => {
    const a = await greeted();
    const b = await greeted();
    const opened = (await a.request('open', { request })) as {
      result: { handle: number; lane: { laneId: string } };
    };
    const laneId = opened.result.lane.laneId;
    // b names a's lane by id, and guesses a's handle.
    expect(errorCode(await b.request('counters', { lane: laneId }))).toBe('XL_ERR_FORBIDDEN');
    expect(errorCode(await b.request('close', { lane: laneId }))).toBe('XL_ERR_FORBIDDEN');
    b.write(encodeSendFrame(9, opened.result.handle, Buffer.from('x')));
    const reply = await b.waitFor((f) => f.type === FrameType.Reply && f.json?.id === 9);
    expect(errorCode(reply)).toBe('XL_ERR_FORBIDDEN');
    expect(h.backend.sent).toHaveLength(0);
    // A listener may not send on a lane it only receives.
    const remote = h.backend.addRemote('rx');
    const l = (await b.request('listen', { lane: remote.laneId })) as { result: { handle: number } };
    b.write(encodeSendFrame(10, l.result.handle, Buffer.from('x')));
    expect(errorCode(await b.waitFor((f) => f.type === FrameType.Reply && f.json?.id === 10))).toBe(
      'XL_ERR_FORBIDDEN',
    );
    expect(h.backend.lanes.has(laneId)).toBe(true);
    await Promise.all([a.end(), b.end()]);
  });

  it('closes the lanes a connection opened when it ends, and drops its listens', async () => {
    const remote = h.backend.addRemote('rx');
    const c = await greeted();
    const o1 = (await c.request('open', { request })) as { result: { lane: { laneId: string } } };
    const o2 = (await c.request('open', { request })) as { result: { lane: { laneId: string } } };
    await c.request('listen', { lane: remote.laneId });
    expect(h.backend.subscribers(remote.laneId)).toBe(1);
    c.sock.destroy();
    await until(() => h.backend.closedLanes.length === 2, 'lanes closed');
    expect(h.backend.closedLanes.sort()).toEqual([o1.result.lane.laneId, o2.result.lane.laneId].sort());
    expect(h.backend.subscribers(remote.laneId)).toBe(0);
    expect(h.backend.lanes.has(remote.laneId)).toBe(true);
  });

  it('lets go of lanes closed elsewhere while the connection stays, and answers a late close of their handle', async () => {
    const c = await greeted();
    const remotes = Array.from({ length: 200 }, (_, i) => h.backend.addRemote(`rx${i}`));
    const handles: number[] = [];
    for (const r of remotes)
      handles.push(
        ((await c.request('listen', { lane: r.laneId })) as { result: { handle: number } }).result.handle,
      );
    expect(remotes.every((r) => h.backend.subscribers(r.laneId) === 1)).toBe(true);
    // Their senders close them: the client hears 'closed' once per lane, then nothing holds them.
    for (const r of remotes) await h.backend.closeLane(r.laneId);
    await until(
      () => c.frames.filter((f) => f.type === FrameType.Event).length === remotes.length,
      'a closed event per lane',
    );
    expect(c.frames.filter((f) => f.type === FrameType.Event).map((f) => f.json)).toEqual(
      remotes.map((r, i) => ({
        handle: handles[i],
        event: { type: 'closed', laneId: r.laneId, reason: 'closed' },
      })),
    );
    expect(remotes.filter((r) => h.backend.subscribers(r.laneId) > 0)).toEqual([]);
    // A client that asked to close before the event reached it gets an answer, not an error.
    expect(await c.request('close', { lane: handles[0] })).toMatchObject({ ok: true });
    // A handle never given out is still nobody's.
    expect(errorCode(await c.request('close', { lane: handles.at(-1)! + 1 }))).toBe('XL_ERR_FORBIDDEN');
    await c.end();
  });

  it('answers bad frames with an error and keeps serving', async () => {
    const c = await greeted();
    const frame = (body: Uint8Array) => {
      const out = Buffer.alloc(4 + body.length);
      out.writeUInt32BE(body.length, 0);
      out.set(body, 4);
      return out;
    };
    c.write(frame(Buffer.from([0x7f, 1, 2, 3]))); // unknown type
    c.write(frame(Buffer.from([FrameType.Request, ...Buffer.from('{not json')]))); // bad JSON
    c.write(frame(Buffer.from([FrameType.Request, ...Buffer.from('[1,2]')]))); // not an object
    c.write(frame(Buffer.from([FrameType.Request, ...Buffer.from('{"op":"hello"}')]))); // no id
    c.write(frame(Buffer.from([FrameType.Send, 0, 0]))); // truncated send header
    c.write(frame(new Uint8Array(0))); // empty frame
    c.write(encodeJsonFrame(FrameType.Request, { id: 5, op: 'explode' })); // unknown op
    await until(() => c.frames.length >= 8, 'hello reply and seven error replies');
    expect(c.frames.slice(1, 8).map(errorCode)).toEqual([
      'XL_ERR_VALIDATION',
      'XL_ERR_BAD_JSON',
      'XL_ERR_BAD_JSON',
      'XL_ERR_VALIDATION',
      'XL_ERR_VALIDATION',
      'XL_ERR_VALIDATION',
      'XL_ERR_VALIDATION',
    ]);
    // Same connection still works.
    expect((await c.request('open', { request })).ok).toBe(true);
    await c.end();
  });

  it('answers an oversize frame with XL_ERR_TOO_LARGE, closes that connection, and survives', async () => {
    const c = await greeted();
    const opened = (await c.request('open', { request })) as { result: { lane: { laneId: string } } };
    const big = Buffer.alloc(8);
    big.writeUInt32BE(4097, 0);
    c.write(big);
    const f = await c.waitFor((x) => x.type === FrameType.Reply && errorCode(x) !== undefined);
    expect(errorCode(f)).toBe('XL_ERR_TOO_LARGE');
    await c.untilClosed();
    await until(() => h.backend.closedLanes.includes(opened.result.lane.laneId), 'lane closed');
    const d = await greeted();
    expect((await d.request('open', { request })).ok).toBe(true);
    await d.end();
  });
});

describe('socket file handling', () => {
  it('replaces a stale socket file left by a dead server', async () => {
    const path = join(h.dir, 'stale.sock');
    // What a crashed agent leaves: a socket file nobody accepts on (bound, never listening).
    execFileSync('python3', [
      '-c',
      `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`,
    ]);
    expect(statSync(path).isSocket()).toBe(true);
    const api = await startLocalApi({ socketPath: path, backend: new FakeBackend() });
    const c = await RawClient.open(path);
    expect((await c.request('hello', { version: LOCAL_API_VERSION })).ok).toBe(true);
    await c.end();
    await api.close();
  });

  it('refuses a socket another server still answers on, and a path that is not a socket', async () => {
    await expect(
      startLocalApi({ socketPath: h.socketPath, backend: new FakeBackend() }),
    ).rejects.toMatchObject({
      code: 'XL_ERR_DUPLICATE',
    });
    const file = join(h.dir, 'regular');
    writeFileSync(file, 'precious');
    await expect(startLocalApi({ socketPath: file, backend: new FakeBackend() })).rejects.toMatchObject({
      code: 'XL_ERR_FILE',
    });
    expect(statSync(file).isFile()).toBe(true);
  });
});

describe('connect() to a socket', () => {
  it('takes an empty XLANE_SOCKET as unset, and refuses an empty path as input', async () => {
    const before = process.env.XLANE_SOCKET;
    process.env.XLANE_SOCKET = '';
    try {
      // The default path, /run/xlane/agent.sock: no agent there in a test.
      await expect(connect()).rejects.toMatchObject({ code: 'XL_ERR_CONNECT' });
    } finally {
      if (before === undefined) delete process.env.XLANE_SOCKET;
      else process.env.XLANE_SOCKET = before;
    }
    await expect(connect({ socket: '' })).rejects.toMatchObject({ code: 'XL_ERR_VALIDATION' });
  });
});
