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
