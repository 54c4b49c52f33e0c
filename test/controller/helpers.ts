// Shared set-up of the controller tests: the real allocator and loader on examples/testbed-3.yaml.
import { fileURLToPath } from 'node:url';
import { buildApp, type ControllerOptions } from '../../src/controller/app.js';
import { type StartOptions, startController } from '../../src/controller/server.js';
import { loadTopologyFile } from '../../src/topology/load.js';

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
