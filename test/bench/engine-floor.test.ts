// The C floor reference: its output parser, the compile step's errors, and the real program on
// loopback (a short run; its counts, never its speed).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileFloor, parseFloorOutput } from '../../src/bench/engine-floor.js';

function hasCompiler(): boolean {
  try {
    execFileSync(process.env.CC ?? 'cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('parseFloorOutput', () => {
  it('reads the summary line and the raw samples in the order measured', () => {
    const b = parseFloorOutput(
      '{"n":3,"lost":1,"p50Us":8.00,"p99Us":9.00,"p999Us":9.00,"maxUs":9.00}\n9000\n7000\n8000\n',
    );
    expect([...b.samplesNs]).toEqual([9000, 7000, 8000]);
    expect(b.lost).toBe(1);
  });

  it.each([
    ['nothing', ''],
    ['no JSON', 'ready\n1\n'],
    ['a count that does not match', '{"n":2,"lost":0}\n5000\n'],
    ['a bad sample', '{"n":1,"lost":0}\nabc\n'],
    ['a negative sample', '{"n":1,"lost":0}\n-5\n'],
    ['no count', '{"lost":0}\n'],
  ])('refuses %s with a stable code', (_why, text) => {
    expect(() => parseFloorOutput(text)).toThrow(expect.objectContaining({ code: 'XL_ERR_INTERNAL' }));
  });
});

describe('compileFloor', () => {
  it('says XL_ERR_NO_COMPILER when there is no compiler', () => {
    expect(() => compileFloor(undefined, '/nonexistent/cc-xlane')).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_NO_COMPILER',
        message: expect.stringContaining('no C compiler'),
      }),
    );
  });

  it('says XL_ERR_NO_COMPILER with the compiler output when the build fails', () => {
    // `false` exists and fails like a compiler that rejects the source.
    expect(() => compileFloor(undefined, 'false')).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_NO_COMPILER',
        message: expect.stringContaining('could not build'),
      }),
    );
  });

  it('refuses a missing source file with XL_ERR_FILE', () => {
    expect(() => compileFloor('/nonexistent/udp-pingpong.c')).toThrow(
      expect.objectContaining({ code: 'XL_ERR_FILE' }),
    );
  });

  it.skipIf(!hasCompiler())(
    'builds a client and server whose loopback run parses to the asked count',
    { timeout: 30_000 },
    async () => {
      const { binary, cleanup } = compileFloor();
      try {
        const port = String(20_000 + (process.pid % 20_000));
        const server = spawn(binary, ['server', '127.0.0.1', port, '-1'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        await new Promise<void>((resolve, reject) => {
          server.stdout.once('data', () => resolve());
          server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
        });
        const serverExit = new Promise<number | null>((r) => server.once('exit', r));
        const out = execFileSync(
          binary,
          ['client', '127.0.0.1', '127.0.0.1', port, '300', '-1', '64', 'raw'],
          {
            encoding: 'utf8',
            timeout: 20_000,
          },
        );
        const block = parseFloorOutput(out);
        expect(block.samplesNs.length + block.lost).toBe(300);
        for (const v of block.samplesNs) expect(v).toBeGreaterThan(0);
        // The client's closing empty datagram ends the server.
        expect(await serverExit).toBe(0);
      } finally {
        cleanup();
      }
      expect(existsSync(binary)).toBe(false);
    },
  );
});
