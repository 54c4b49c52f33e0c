// Per-test Unix socket paths in a private temp dir, and a local API server over a FakeBackend.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LocalApi, startLocalApi } from '../../src/agent/local-api/server.js';
import { FakeBackend } from './fake-backend.js';

export interface Harness {
  dir: string;
  socketPath: string;
  backend: FakeBackend;
  api: LocalApi;
  cleanup(): Promise<void>;
}

export async function startHarness(opts: { maxFrameBytes?: number } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'xlane-api-'));
  const socketPath = join(dir, 'agent.sock');
  const backend = new FakeBackend();
  const api = await startLocalApi({ socketPath, backend, ...opts });
  return {
    dir,
    socketPath,
    backend,
    api,
    cleanup: async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once `cond` holds, checking after each turn of the event loop (no fixed sleeps). */
export async function until(cond: () => boolean, what: string, maxTurns = 5_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}
