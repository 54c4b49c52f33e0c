// PeerProcess against a fake child: replies matched to requests, also after a request timed out
// (the peer answers strictly in order, so its late reply must not be taken for the next request's).
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PeerProcess } from '../../src/bench/engine-peer-process.js';

type Req = { op: 'status' } | { op: 'collect' };
type Rep =
  | { op: 'status'; n: number }
  | { op: 'collect'; n: number }
  | { op: 'error'; code?: string; message?: string };

function fakeChild() {
  const child = Object.assign(new EventEmitter(), {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    pid: 1 << 22,
  });
  const requests: string[] = [];
  child.stdin.on('data', (d) => requests.push(...String(d).trim().split('\n')));
  const reply = (r: object) => child.stdout.write(`${JSON.stringify(r)}\n`);
  return { child: child as unknown as ChildProcess, requests, reply };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('PeerProcess', () => {
  it('answers each request with its reply, in order', async () => {
    const { child, reply } = fakeChild();
    const peer = new PeerProcess<Req, Rep>('p', child);
    const a = peer.request({ op: 'status' }, 1000);
    reply({ op: 'status', n: 1 });
    expect(await a).toEqual({ op: 'status', n: 1 });
    reply({ op: 'collect', n: 2 }); // arrives before it is asked for: queued
    expect(await peer.request({ op: 'collect' }, 1000)).toEqual({ op: 'collect', n: 2 });
  });

  it('drops the late reply of a request that timed out, arriving before or after the next request', async () => {
    const { child, requests, reply } = fakeChild();
    const peer = new PeerProcess<Req, Rep>('p', child);
    await expect(peer.request({ op: 'status' }, 20)).rejects.toMatchObject({ code: 'XL_ERR_TIMEOUT' });
    reply({ op: 'status', n: 1 }); // late, before the next request
    await tick();
    const b = peer.request({ op: 'collect' }, 1000);
    reply({ op: 'collect', n: 2 });
    expect(await b).toEqual({ op: 'collect', n: 2 });

    await expect(peer.request({ op: 'status' }, 20)).rejects.toMatchObject({ code: 'XL_ERR_TIMEOUT' });
    const c = peer.request({ op: 'collect' }, 1000);
    reply({ op: 'status', n: 3 }); // late, while the next request waits
    reply({ op: 'collect', n: 4 });
    expect(await c).toEqual({ op: 'collect', n: 4 });
    expect(requests.map((l) => JSON.parse(l).op)).toEqual(['status', 'collect', 'status', 'collect']);
  });
});
