import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkListenSafety, isLoopback, parseListen } from '../../src/controller/listen.js';
import { startController } from '../../src/controller/server.js';
import { testbed } from './helpers.js';

describe('listen address', () => {
  it('parses host:port, [v6]:port and :port', () => {
    expect(parseListen('127.0.0.1:7300')).toEqual({ host: '127.0.0.1', port: 7300 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    for (const bad of ['7300', 'host:', 'a:99999', 'h:1:2']) {
      expect(() => parseListen(bad)).toThrow(expect.objectContaining({ code: 'XL_ERR_VALIDATION' }));
    }
  });

  it('knows loopback addresses', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::', 'example.com', '1270.0.0.1'].some(isLoopback)).toBe(false);
  });

  it('refuses a non-loopback address without a token, allows it with one', () => {
    expect(() => checkListenSafety({ host: '0.0.0.0', port: 7300 }, undefined)).toThrow(/without a token/);
    expect(() => checkListenSafety({ host: '0.0.0.0', port: 7300 }, 't')).not.toThrow();
    expect(() => checkListenSafety({ host: '127.0.0.1', port: 7300 }, undefined)).not.toThrow();
  });

  it('startController refuses before opening anything', async () => {
    await expect(
      startController({ topology: testbed(), dbPath: ':memory:', listen: '0.0.0.0:0' }),
    ).rejects.toThrow(expect.objectContaining({ code: 'XL_ERR_VALIDATION' }));
  });

  it('a port in use is a clear error, not a crash', async () => {
    const first = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
    try {
      const port = new URL(first.url).port;
      await expect(
        startController({ topology: testbed(), dbPath: ':memory:', listen: `127.0.0.1:${port}` }),
      ).rejects.toThrow(/address in use/);
    } finally {
      await first.close();
    }
  });

  it('a failed start leaves no state file it created, and keeps one that was there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlane-listen-'));
    const first = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
    try {
      const taken = `127.0.0.1:${new URL(first.url).port}`;
      const noTopology = join(dir, 'a.db');
      await expect(startController({ dbPath: noTopology, listen: '127.0.0.1:0' })).rejects.toThrow(
        expect.objectContaining({ code: 'XL_ERR_TOPOLOGY' }),
      );
      expect(existsSync(noTopology)).toBe(false);

      const inUse = join(dir, 'b.db');
      await expect(startController({ topology: testbed(), dbPath: inUse, listen: taken })).rejects.toThrow(
        /address in use/,
      );
      expect(existsSync(inUse)).toBe(false);

      const kept = join(dir, 'c.db');
      await (await startController({ topology: testbed(), dbPath: kept, listen: '127.0.0.1:0' })).close();
      await expect(startController({ dbPath: kept, listen: taken })).rejects.toThrow(/address in use/);
      const again = await startController({ dbPath: kept, listen: '127.0.0.1:0' });
      expect(again.lifecycle.topology).toEqual(testbed());
      await again.close();
    } finally {
      await first.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
