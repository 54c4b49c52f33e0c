// Ctrl-C during `xlane demo` without root: a real child process (a signal cannot be sent into the
// test's own process without ending it) gets SIGINT or SIGTERM while its loopback lane runs, and
// must close its controller, remove its temporary xlane-demo-* folder and exit 130 / 143.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_FALLBACK_ENV } from '../../src/cli/commands/demo.js';

const demoFolders = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('xlane-demo-'));

interface Demo {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `xlane demo` forced onto its fallback, with its temporary state in `tmp` (TMPDIR). */
function startDemo(tmp: string): Demo {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--listen', '127.0.0.1:0'],
    {
      env: { ...process.env, TMPDIR: tmp, [TEST_FALLBACK_ENV]: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal })),
  );
  return { child, out: () => out, err: () => err, exited };
}

/** Resolves once the output matches; fails if the demo exits first. */
async function waitFor(demo: Demo, re: RegExp): Promise<void> {
  while (!re.test(demo.out())) {
    const ended = await Promise.race([demo.exited, new Promise((r) => setTimeout(r, 50, undefined))]);
    if (ended)
      throw new Error(`demo exited before ${re}: ${JSON.stringify(ended)}\n${demo.out()}${demo.err()}`);
  }
}

describe('xlane demo without root, interrupted', () => {
  let tmp = '';
  let demo: Demo | undefined;
  afterEach(() => {
    if (demo && demo.child.exitCode === null && demo.child.signalCode === null) demo.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  for (const [signal, status] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`closes the controller, removes its temporary folder and exits ${status} on ${signal}`, async () => {
      tmp = mkdtempSync(join(tmpdir(), 'xlane-demo-signal-'));
      demo = startDemo(tmp);
      await waitFor(demo, /^Running hb-h1-h3 .* on 127\.0\.0\.1 for 3 s/m);
      expect(demo.out()).toContain(`forced the fallback`);
      // The loopback run is under way and the controller's state folder exists: the case at stake.
      await new Promise((r) => setTimeout(r, 300));
      expect(demoFolders(tmp)).toHaveLength(1);
      demo.child.kill(signal);
      const { code, signal: killedBy } = await demo.exited;
      expect(demoFolders(tmp)).toEqual([]);
      expect({ code, killedBy }).toEqual({ code: status, killedBy: null });
      expect(demo.err()).toContain(`${signal}: closing the demo controller`);
      // It stopped early: the loopback result line never came.
      expect(demo.out()).not.toMatch(/Run as root for the real comparison/);
    }, 90_000);
  }
});
