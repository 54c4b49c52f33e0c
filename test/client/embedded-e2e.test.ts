import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningController, startController } from '../../src/controller/index.js';
import { type Client, connect, type LaneMessage, XlaneError } from '../../src/index.js';
import { loadTopologyFile } from '../../src/topology/load.js';
import { freeUdpPort } from './free-udp-port.js';

const TESTBED = fileURLToPath(new URL('../../examples/testbed-3.yaml', import.meta.url));
const PEERS = { h1: '127.0.0.1', h2: '127.0.0.2' };
const N = 1000;

async function eventually(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('embedded clients against a real controller', () => {
  let controller: RunningController;
  let tx: Client;
  let rx: Client;

  beforeAll(async () => {
    const topology = { ...loadTopologyFile(TESTBED), expressPort: await freeUdpPort() };
    controller = await startController({
      topology,
      dbPath: ':memory:',
      listen: '127.0.0.1:0',
      logger: false,
    });
    const common = { controller: controller.url, peers: PEERS };
    rx = await connect({ embedded: { ...common, host: 'h2' } });
    tx = await connect({ embedded: { ...common, host: 'h1' } });
  });

  afterAll(async () => {
    await tx?.close();
    await rx?.close();
    await controller?.close();
  });

  it('delivers 1,000 messages with no loss, in order, intact', async () => {
    const lane = await tx.openLane({ to: 'h2', name: 'e2e', maxPayloadBytes: 64, minPeriodNs: 200_000 });
    expect(lane.state).toBe('live');
    expect(lane.grant.receivers[0]!.host).toBe('h2');
    const rxLane = await rx.listen('e2e');
    expect(rxLane.id).toBe(lane.id);

    const got: LaneMessage[] = [];
    rxLane.onMessage((m) => got.push({ ...m, payload: Uint8Array.prototype.slice.call(m.payload) }));

    let refused = 0;
    const gap = BigInt(lane.grant.minPeriodNs + 20_000);
    let last = 0n;
    for (let i = 0; i < N; ) {
      while (process.hrtime.bigint() - last < gap) await new Promise((r) => setImmediate(r));
      last = process.hrtime.bigint();
      const payload = Buffer.alloc(16);
      payload.writeUInt32BE(i, 0);
      payload.write('xlane-e2e', 4);
      try {
        lane.send(payload);
        i++;
      } catch (err) {
        // A send the engine saw sooner than π_min (this process was descheduled): the contract
        // says retry later, and the message is not lost, just not sent yet.
        if (!(err instanceof XlaneError && err.code === 'XL_ERR_CONTRACT_RATE')) throw err;
        refused++;
      }
    }
    await eventually(() => got.length >= N, `${N} deliveries (have ${got.length})`);
    expect(got).toHaveLength(N);
    expect(got.map((m) => Buffer.from(m.payload).readUInt32BE(0))).toEqual([...Array(N).keys()]);
    expect(got.every((m) => Buffer.from(m.payload).subarray(4, 13).toString() === 'xlane-e2e')).toBe(true);
    expect(got.every((m) => m.receivedNs >= m.sentNs)).toBe(true);
    const seqs = got.map((m) => m.seq);
    expect(new Set(seqs).size).toBe(N);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    const rc = await rxLane.counters();
    expect(rc.received).toBe(N);
    expect(rc.lost).toBe(0);
    const tc = await lane.counters();
    expect(tc.sent).toBe(N);
    expect(tc.refused).toBe(refused);

    await lane.close();
    const lanes = await fetch(`${controller.url}/v1/lanes`).then(
      (r) => r.json() as Promise<{ lanes: unknown[] }>,
    );
    expect(lanes.lanes).toEqual([]);
    // The receiver hears of it through its watch stream.
    await eventually(() => rxLane.state === 'closed', 'receiver lane closed');
  });
});
