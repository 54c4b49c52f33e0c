// What an engine leaves behind when it ends: close() gives back every socket, the eventfd and the
// locked memory at once (not when the garbage collector gets to the handle); a worker thread that
// ends with its engine still running does not take the process down; an engine that has stopped
// takes nothing more (a socket handed to it is closed, its receive socket cannot be swapped).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import { SharedBlock } from '../../src/engine/native/shared-block.js';
import {
  encodeFrame,
  freeUdpPort,
  LOOPBACK_RECEIVER_L1,
  loopbackSenderL1,
  RawSender,
  waitFor,
} from './helpers.js';
import {
  allowedCpus,
  nativeEngine,
  nativeLoad,
  RAW_START_OPTIONS,
  rawEngines,
  skipReason,
} from './native-helpers.js';

const LO = '127.0.0.1';

const openFds = () => readdirSync('/proc/self/fd').length;
const lockedKb = () => Number(/^VmLck:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);

describe.skipIf(skipReason !== '')(`native engine teardown ${skipReason}`, () => {
  const raw = rawEngines();
  const { addon } = raw;
  const open: NativeEngine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
    await raw.cleanup();
  });

  it('close() gives back every fd and all locked memory at once, without a garbage collection', async () => {
    // A first engine lets the runtime open what it keeps open (libuv, the dgram socket pool).
    const warm = nativeEngine({ receive: 'blocking' });
    await warm.start({ bindAddress: LO, port: await freeUdpPort() });
    await warm.close();
    const port = await freeUdpPort();
    const fds = openFds();
    const locked = lockedKb();
    const e = nativeEngine({ receive: 'blocking' }); // lockMemory: on by default
    open.push(e);
    await e.start({ bindAddress: LO, port });
    let got = 0;
    e.onDelivery(() => {
      got++;
    });
    e.setReceiver(LOOPBACK_RECEIVER_L1);
    e.setSender(loopbackSenderL1(port));
    e.send('L1', Buffer.from([1]));
    await waitFor(() => got === 1, 'the delivery');
    // The receive socket, the lane's socket and the eventfd.
    expect(openFds()).toBe(fds + 3);
    // As root (or with RLIMIT_MEMLOCK room) the engine locked its block, tables and stack, some
    // 5.5 MB (a sanitizer's runtime makes mlock a no-op: nothing to see then).
    await e.close();
    // Before: the eventfd stayed open, and the locked pages stayed locked (heap pages even after
    // the collection: VmLck was 117 MB with no engine left after 600 engines were closed).
    expect(openFds()).toBe(fds);
    expect(lockedKb()).toBe(locked);
  });

  it('a worker that ends with its engine running (threads busy, a backup reading) leaves the process up', () => {
    // Before: the environment's teardown freed the shared block under the running engine thread
    // and backup thread (ASan: heap-use-after-free in xl_drain_tx_ring, backup_read), a SEGV of
    // the whole process in most runs. In a child process, so a crash is a failed exit, not ours.
    const backupCore = allowedCpus().at(-1)!;
    const worker = `
      const { parentPort, workerData: w } = require('node:worker_threads');
      const a = require(w.addon);
      const [h] = a.create();
      a.openReceiver(h, '127.0.0.1', w.port);
      a.start(h, { core: -1, fifoPriority: 0, lockMemory: false, busyPoll: true, inlinePoll: false,
        idleSpinNs: 1e9, spinNs: 30000, fifoSliceNs: 900000, fifoBreakNs: 100000,
        backupCore: w.backupCore, backupReadNs: 20000 }, () => {});
      // A 100 µs heartbeat lane to itself, delivered: the thread writes the ring and wakes JS.
      a.setReceiver(h, 0, 1, 1, 1, '127.0.0.1', 8, 0, 1e12, 1, 0, 1);
      const fd = a.openSender('127.0.0.1', 0, 0, 0);
      a.setSender(h, 0, 1, fd, 1, 1, 8, 100000, ['127.0.0.1', w.port], 1, 0, 0, -1);
      parentPort.postMessage('running');`;
    const main = `
      const { Worker } = require('node:worker_threads');
      const dgram = require('node:dgram');
      const freePort = () => new Promise((r) => { const s = dgram.createSocket('udp4');
        s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
      (async () => {
        for (let i = 0; i < 8; i++) {
          const w = new Worker(${JSON.stringify(worker)}, { eval: true, workerData: {
            addon: ${JSON.stringify(nativeLoad.ok ? nativeLoad.path : '')}, port: await freePort(),
            backupCore: ${backupCore} } });
          await new Promise((r) => w.once('message', r));
          await new Promise((r) => setTimeout(r, 20 + 5 * i));
          await w.terminate();
        }
        console.log('done');
      })();`;
    const run = spawnSync(process.execPath, ['-e', main], { encoding: 'utf8', timeout: 20_000 });
    expect({ status: run.status, signal: run.signal, out: run.stdout.trim() }).toEqual({
      status: 0,
      signal: null,
      out: 'done',
    });
  });

  it('a running engine keeps its receive socket: openReceiver() is refused, and datagrams still come in', async () => {
    const [h, buffer] = addon.create();
    raw.onCleanup(() => addon.stop(h));
    const block = new SharedBlock(addon.layout, buffer);
    const port = await freeUdpPort();
    addon.openReceiver(h, LO, port);
    addon.start(h, RAW_START_OPTIONS, () => {});
    // Before: accepted, and the socket the engine thread was polling closed under it (its number
    // free for the next file this process opens).
    const other = await freeUdpPort();
    expect(() => addon.openReceiver(h, LO, other)).toThrow(expect.objectContaining({ code: 'EALREADY' }));
    addon.setReceiver(h, 0, 1, 1, 1, LO, 8, 0, 1e12, 0, 0, 1);
    const peer = await RawSender.open();
    raw.onCleanup(() => peer.close());
    await peer.send(encodeFrame({ wireId: 1 }, Uint8Array.of(7)), port);
    await waitFor(() => Atomics.load(block.i32, addon.layout.W_RX_HEAD) === 1, 'the delivery');
  });

  it('a stopped engine closes a socket handed to it, and does not start again', async () => {
    const { h } = await raw.engine();
    addon.stop(h);
    const fd = addon.openSender(LO, 0, 0, 0);
    expect(existsSync(`/proc/self/fd/${fd}`)).toBe(true);
    // Before: queued for a thread that was gone, the socket open until the handle was collected.
    addon.setSender(h, 0, 1, fd, 1, 1, 8, 100_000, [LO, 9], -1, 0, 0, -1);
    expect(existsSync(`/proc/self/fd/${fd}`)).toBe(false);
    expect(() => addon.start(h, RAW_START_OPTIONS, () => {})).toThrow(
      expect.objectContaining({ code: 'EALREADY' }),
    );
  });
});
