// The js engine's pacing thread must run with a 1 ns timer slack: with Linux's default 50 µs a
// sleep may end after the 30 µs spin window and the frame leaves late.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createJsEngine } from '../../src/engine/js/engine.js';
import { freeUdpPort, waitFor } from './helpers.js';

function slacks(): string[] {
  return readdirSync('/proc/self/task').map((tid) => {
    try {
      return readFileSync(`/proc/${tid}/timerslack_ns`, 'utf8').trim();
    } catch {
      return '';
    }
  });
}

describe.skipIf(process.platform !== 'linux')('js engine pacing thread', () => {
  it('sets its own timer slack to 1 ns and leaves the main thread alone', async () => {
    const engine = createJsEngine();
    const before = slacks().filter((s) => s === '1').length;
    await engine.start({ bindAddress: '127.0.0.1', port: await freeUdpPort() });
    try {
      await waitFor(() => slacks().filter((s) => s === '1').length === before + 1, 'a 1 ns thread');
      expect(readFileSync('/proc/self/timerslack_ns', 'utf8').trim()).not.toBe('1');
    } finally {
      await engine.close();
    }
  });
});

const isRoot = process.getuid?.() === 0;

describe.skipIf(process.platform !== 'linux' || !isRoot)('js engine pacing thread placement (root)', () => {
  it('pins the worker to the asked core and makes it SCHED_FIFO, leaving the main thread alone', async () => {
    const engine = createJsEngine({ fifoPriority: 7 });
    await engine.start({ bindAddress: '127.0.0.1', port: await freeUdpPort(), core: 0 });
    try {
      const p = engine.workerPolicy();
      expect(p.error).toBeUndefined();
      expect(p).toMatchObject({ core: 0, fifoPriority: 7 });
      expect(p.tid).not.toBe(process.pid);
      // /proc/<tid>/stat fields 40 and 41 (after the comm's closing parenthesis): rt_priority, policy.
      const stat = readFileSync(`/proc/${p.tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      expect(fields[39 - 2]).toBe('7');
      expect(fields[40 - 2]).toBe('1'); // SCHED_FIFO
      const status = readFileSync(`/proc/${p.tid}/status`, 'utf8');
      expect(/Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1]).toBe('0');
      const main = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
      expect(main.slice(main.lastIndexOf(')') + 2).split(' ')[40 - 2]).toBe('0'); // SCHED_OTHER
    } finally {
      await engine.close();
    }
  });

  it('refuses a priority outside 1..99 with XL_ERR_VALIDATION and reports a core it cannot use', async () => {
    expect(() => createJsEngine({ fifoPriority: 0 })).toThrow(/1\.\.99/);
    const engine = createJsEngine();
    await engine.start({ bindAddress: '127.0.0.1', port: await freeUdpPort(), core: 4096 });
    try {
      const p = engine.workerPolicy();
      expect(p.core).toBe(-1);
      expect(p.error).toMatch(/taskset/);
    } finally {
      await engine.close();
    }
  });
});
