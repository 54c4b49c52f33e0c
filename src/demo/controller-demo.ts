// The main job until the namespace testbed exists: a real controller (HTTP API, SQLite) serving the
// 3-host example topology, driven over HTTP exactly as an operator or agent would: heartbeat lanes,
// a one-to-many lane with a deadline, two bulky flexible lanes that force a re-tune of an admitted
// grant, and one request that cannot fit (the refusal names the bottleneck link).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GrantChange, LaneRequest, PortReport } from '../alloc/types.js';
import { ControllerClient } from '../client/controller-client.js';
import type { LaneView } from '../controller/lifecycle.js';
import { type RunningController, startController } from '../controller/server.js';
import { isXlaneError, XlaneError } from '../errors.js';

/** examples/ ships with the package; found relative to this file in src/ (tsx) and dist/ alike. */
export const EXAMPLE_TOPOLOGY = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../examples/testbed-3.yaml',
);

export interface DemoStep {
  request: LaneRequest;
  lane?: LaneView;
  changed: GrantChange[];
  refused?: { code: string; message: string };
}

export interface DemoResult {
  controller: RunningController;
  dbPath: string;
  steps: DemoStep[];
  lanes: LaneView[];
  ports: PortReport[];
}

export const DEMO_REQUESTS: LaneRequest[] = [
  { name: 'hb-h1-h3', sender: 'h1', receivers: ['h3'], maxPayloadBytes: 64, minPeriodNs: 100_000 },
  { name: 'hb-h2-h3', sender: 'h2', receivers: ['h3'], maxPayloadBytes: 64, minPeriodNs: 100_000 },
  {
    name: 'raft-h1',
    sender: 'h1',
    receivers: ['h2', 'h3'],
    maxPayloadBytes: 256,
    minPeriodNs: 1_000_000,
    deadlineNs: 500_000,
  },
  {
    name: 'sync-h2-h3',
    sender: 'h2',
    receivers: ['h3'],
    maxPayloadBytes: 1418,
    minPeriodNs: 100_000,
    minPayloadBytes: 512,
    maxPeriodNs: 1_000_000,
  },
  {
    name: 'sync-h1-h3',
    sender: 'h1',
    receivers: ['h3'],
    maxPayloadBytes: 1418,
    minPeriodNs: 100_000,
    maxPeriodNs: 1_000_000,
    policy: 'coalesce',
  },
  // Rigid and too fast for a 20% express share of a 1 Gbit/s link: refused, naming the link.
  { name: 'greedy-h2-h3', sender: 'h2', receivers: ['h3'], maxPayloadBytes: 1418, minPeriodNs: 50_000 },
];

export interface DemoOptions {
  topology?: string;
  dbPath?: string;
  listen?: string;
}

export async function runControllerDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const tmp = opts.dbPath === undefined ? mkdtempSync(join(tmpdir(), 'xlane-demo-')) : undefined;
  const removeTmp = () => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  };
  const dbPath = opts.dbPath ?? join(tmp!, 'xlane.db');
  let controller: RunningController;
  try {
    const running = await startWithFallback(opts.topology ?? EXAMPLE_TOPOLOGY, dbPath, opts.listen);
    // The caller keeps the controller (and so the database) after this returns, e.g. to serve
    // until Ctrl-C: the temporary folder can only go when the controller closes.
    controller = {
      ...running,
      close: async () => {
        try {
          await running.close();
        } finally {
          removeTmp();
        }
      },
    };
  } catch (err) {
    removeTmp();
    throw err;
  }
  try {
    const client = new ControllerClient({ url: controller.url });
    const steps: DemoStep[] = [];
    for (const request of DEMO_REQUESTS) {
      try {
        const res = await client.openLane(request);
        steps.push({ request, lane: res.lane, changed: res.changed });
      } catch (err) {
        if (!isXlaneError(err)) throw err;
        steps.push({ request, changed: [], refused: { code: err.code, message: err.message } });
      }
    }
    const [lanes, ports] = await Promise.all([client.lanes(), client.ports()]);
    return { controller, dbPath, steps, lanes, ports };
  } catch (err) {
    await controller.close();
    throw err;
  }
}

/** The demo prefers the default port (so `xlane lanes list` works from another terminal) but must
 * not fail because something else holds it. */
async function startWithFallback(
  topology: string,
  dbPath: string,
  listen?: string,
): Promise<RunningController> {
  try {
    return await startController({ topology, dbPath, listen: listen ?? '127.0.0.1:7300', logger: false });
  } catch (err) {
    if (listen || !(err instanceof XlaneError) || err.details?.cause !== 'EADDRINUSE') throw err;
    return startController({ topology, dbPath, listen: '127.0.0.1:0', logger: false });
  }
}
