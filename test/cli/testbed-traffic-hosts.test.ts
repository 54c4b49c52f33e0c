// `xlane testbed traffic` with a host the testbed does not have: XL_ERR_UNKNOWN_HOST, as everywhere
// else in xlane (the library's own check would say XL_ERR_VALIDATION). The state file is a fake:
// nothing is up, and the host check comes before iperf3 is started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { EXAMPLE_TOPOLOGY } from '../../src/demo/controller-demo.js';
import { planTestbed } from '../../src/testbed/plan.js';
import { makeState, writeState } from '../../src/testbed/state.js';
import { loadTopologyFile } from '../../src/topology/load.js';

describe('xlane testbed traffic with an unknown host', () => {
  const runsDir = mkdtempSync(join(tmpdir(), 'xlane-traffic-hosts-'));
  writeState(runsDir, makeState(planTestbed(loadTopologyFile(EXAMPLE_TOPOLOGY), { name: 'tb' }), []));
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => rmSync(runsDir, { recursive: true, force: true }));

  it.each([
    ['--to', ['--from', 'h1', '--to', 'h9'], 'h9'],
    ['--from', ['--from', 'h0', '--to', 'h2'], 'h0'],
  ])('an unknown %s host is XL_ERR_UNKNOWN_HOST naming the hosts', async (_, hosts, bad) => {
    vi.spyOn(process, 'getuid').mockReturnValue(0);
    const err = await buildProgram()
      .parseAsync(['node', 'xlane', 'testbed', 'traffic', ...hosts, '--runs-dir', runsDir])
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({
      code: 'XL_ERR_UNKNOWN_HOST',
      message: `no host ${bad} in testbed tb (hosts: h1, h2, h3)`,
    });
  });
});
