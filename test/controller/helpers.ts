// Shared set-up of the controller tests: the real allocator and loader on examples/testbed-3.yaml.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ControllerClient } from '../../src/client/controller-client.js';
import { buildApp, type ControllerOptions } from '../../src/controller/app.js';
import { type RunningController, type StartOptions, startController } from '../../src/controller/server.js';
import { loadTopologyFile } from '../../src/topology/load.js';
import { TestWatch } from './watch-client.js';

export const TESTBED = fileURLToPath(new URL('../../examples/testbed-3.yaml', import.meta.url));
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** No headroom or rounding: every admission that adds load moves the windows it touches, which is
 * exactly the case the safe change order (pending → live) is about. */
export const EXACT_WINDOWS = { boundHeadroom: 0, boundQuantumNs: 1 };

export function testbed() {
  return loadTopologyFile(TESTBED);
}

export async function makeApp(opts: Partial<ControllerOptions> = {}) {
  return buildApp({ topology: testbed(), dbPath: ':memory:', allocator: EXACT_WINDOWS, ...opts });
}

/** A real controller on a free loopback port, state in memory, exact windows. */
export function startTestController(opts: Partial<StartOptions> = {}) {
  return startController({
    topology: testbed(),
    dbPath: ':memory:',
    listen: '127.0.0.1:0',
    allocator: EXACT_WINDOWS,
    ...opts,
  });
}

export const lane = (sender: string, receivers: string[], extra: Record<string, unknown> = {}) => ({
  sender,
  receivers,
  maxPayloadBytes: 64,
  minPeriodNs: 100_000,
  ...extra,
});

/** `xlane controller` on `db` from the sources (node itself, not npx, so a PID a test kills is the
 * controller's), added to `children`: its URL once it listens, or an error with its output once it
 * exits. */
export function spawnControllerCli(
  db: string,
  children: ChildProcess[],
  topologyFile = TESTBED,
): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'controller',
      '--topology',
      topologyFile,
      '--db',
      db,
      '--listen',
      '127.0.0.1:0',
    ],
    { cwd: REPO, env: { ...process.env, XLANE_TOKEN: '' } },
  );
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (m) resolve({ child, url: m[1]!, log: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`controller exited ${code}: ${out.trim()}`)));
  });
}

/** Real controllers and watch sockets a test file starts, and the clean-up to run after each test. */
export function controllerHarness() {
  const running: RunningController[] = [];
  const sockets: TestWatch[] = [];
  return {
    async start(opts: Partial<StartOptions> = {}) {
      const c = await startTestController(opts);
      running.push(c);
      return { c, client: new ControllerClient({ url: c.url }) };
    },
    async watch(url: string, opts: Parameters<typeof TestWatch.open>[1] = {}) {
      const w = await TestWatch.open(url, opts);
      sockets.push(w);
      return w;
    },
    async cleanup() {
      for (const s of sockets.splice(0)) s.ws.terminate();
      for (const c of running.splice(0)) await c.close();
    },
  };
}
