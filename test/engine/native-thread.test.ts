// The engine thread as the kernel sees it: pinned to the asked CPU, 1 ns timer slack, and gone
// after close() (no thread left behind).
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import { freeUdpPort, LOOPBACK_RECEIVER_L1, loopbackSenderL1, waitFor } from './helpers.js';
import { allowedCpus, lastCpu, nativeEngine, skipReason, taskField, threadCount } from './native-helpers.js';

const LO = '127.0.0.1';

describe.skipIf(skipReason !== '')(`native engine thread ${skipReason}`, () => {
  const open: NativeEngine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
  });

  async function started(core?: number, receive: 'busy-poll' | 'blocking' = 'busy-poll') {
    const e = nativeEngine({ receive });
    open.push(e);
    const port = await freeUdpPort();
    await e.start({ bindAddress: LO, port, ...(core === undefined ? {} : { core }) });
    return { e, port };
  }

  it('pins the engine thread to the requested core and sets a 1 ns timer slack', async () => {
    const core = allowedCpus().at(-1)!;
    const { e } = await started(core);
    const t = e.thread()!;
    expect(t).toMatchObject({ pinned: 1, timerSlackNs: 1 });
    expect(taskField(t.tid, 'Cpus_allowed_list')).toBe(String(core));
    // Having run since it was pinned, the thread's last CPU can only be that core.
    await new Promise((r) => setTimeout(r, 20));
    expect(lastCpu(t.tid)).toBe(core);
    expect(t.tid).not.toBe(process.pid);
  });

  it('leaves the thread unpinned when no core is given', async () => {
    const { e } = await started(undefined, 'blocking');
    const t = e.thread()!;
    expect(t.pinned).toBe(0);
    expect(taskField(t.tid, 'Cpus_allowed_list')).toBe(taskField(process.pid, 'Cpus_allowed_list'));
  });

  it('refuses a core this process cannot run on with XL_ERR_VALIDATION', async () => {
    const absent = Math.max(...allowedCpus()) + 1;
    const e = nativeEngine();
    open.push(e);
    await expect(e.start({ bindAddress: LO, port: await freeUdpPort(), core: absent })).rejects.toMatchObject(
      {
        code: 'XL_ERR_VALIDATION',
      },
    );
    const negative = nativeEngine();
    open.push(negative);
    await expect(
      negative.start({ bindAddress: LO, port: await freeUdpPort(), core: -1 }),
    ).rejects.toMatchObject({
      code: 'XL_ERR_VALIDATION',
    });
  });

  it('close() joins the engine thread: the task count is back to what it was, after traffic', async () => {
    // A first cycle lets lazily created runtime threads appear before we count.
    await (await started()).e.close();
    const before = threadCount();
    const tidsBefore = new Set(readdirSync('/proc/self/task'));
    const { e, port } = await started(allowedCpus()[0]);
    // The engine's thread is a new task of this process. (Counting all tasks is not exact: V8 and
    // libuv threads of the test runner come and go on their own — seen once in CI, 12 vs 13.)
    expect(tidsBefore.has(String(e.thread()!.tid))).toBe(false);
    expect(readdirSync('/proc/self/task')).toContain(String(e.thread()!.tid));
    let got = 0;
    e.onDelivery(() => {
      got++;
    });
    e.setReceiver(LOOPBACK_RECEIVER_L1);
    e.setSender(loopbackSenderL1(port, { dscp: 46 }));
    e.send('L1', Buffer.from([1]));
    await waitFor(() => got === 1, 'the delivery');
    const tid = e.thread()!.tid;
    await e.close();
    expect(() => taskField(tid, 'State')).toThrow(/ENOENT/);
    expect(threadCount()).toBeLessThanOrEqual(before);
  });
});
