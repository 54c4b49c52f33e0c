// The js engine's pacing worker under lane churn: its loop hardly ever returns to the thread's event
// loop, where dgram finishes closing a socket. Lanes set and removed by the hundred must not leave
// their sockets and frame buffers in the worker's heap, and the worker must still send afterwards.
import dgram from 'node:dgram';
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createJsEngine, type JsEngine } from '../../src/engine/js/engine.js';
import type { SenderSpec } from '../../src/engine/types.js';
import { freeUdpPort, waitFor } from './helpers.js';

const LO = '127.0.0.1';

function sender(i: number, port: number): SenderSpec {
  return {
    laneId: `L${i}`,
    wireId: i + 1,
    epoch: 1,
    maxPayloadBytes: 64,
    minPeriodNs: 1_000_000,
    policy: 'reject',
    dscp: 46,
    priority: 0,
    srcPort: 0,
    destinations: [{ host: 'h2', address: LO, port }],
  };
}

/** Objects of class `name` in the worker's heap (a heap snapshot, parsed). */
async function workerObjects(worker: Worker, name: string): Promise<number> {
  let text = '';
  for await (const chunk of await worker.getHeapSnapshot()) text += chunk;
  const snap = JSON.parse(text) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const objectType = snap.snapshot.meta.node_types[0].indexOf('object');
  const nameId = snap.strings.indexOf(name);
  let n = 0;
  for (let i = 0; i < snap.nodes.length; i += width)
    if (snap.nodes[i + typeAt] === objectType && snap.nodes[i + nameAt] === nameId) n++;
  return n;
}

let engine: JsEngine | undefined;
let rx: dgram.Socket | undefined;
afterEach(async () => {
  await engine?.close();
  rx?.close();
  engine = undefined;
  rx = undefined;
});

describe('js engine pacing worker under lane churn', () => {
  it('releases the sockets and frames of removed lanes, and still sends afterwards', async () => {
    rx = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    rx.on('message', (m) => got.push(m));
    await new Promise<void>((r) => rx!.bind(0, LO, () => r()));
    const target = rx.address().port;
    engine = createJsEngine({ directSend: false });
    await engine.start({ bindAddress: LO, port: await freeUdpPort() });
    const worker = (engine as unknown as { worker: Worker }).worker;

    const churn = 300;
    for (let i = 0; i < churn; i++) {
      engine.setSender(sender(i, target));
      engine.removeSender(`L${i}`);
      // Let the worker take them in batches, as grant updates come.
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 1));
    }
    engine.setSender(sender(churn, target));
    expect(engine.send(`L${churn}`, Buffer.from('after the churn'))).toBe('queued');
    await waitFor(() => got.length === 1, 'the frame sent after the churn');

    // Each lane the worker held had one FrameEncoder (and one socket): only the live lane's remain.
    await new Promise((r) => setTimeout(r, 50));
    expect(await workerObjects(worker, 'FrameEncoder')).toBeLessThanOrEqual(2);
  });
});
