// LaneMessage.kernelReceivedNs: the engine's kernel receive stamp where the view has one, 0 (unknown)
// where it has none, by callback and by iteration alike, in process and over the agent's socket
// (whose DeliveryStamped frame the library asks for in its hello).
import { afterEach, describe, expect, it } from 'vitest';
import { type Client, connect, type LaneMessage } from '../../src/index.js';
import { FakeBackend } from './fake-backend.js';
import { type Harness, startHarness, until } from './helpers.js';

const pick = (m: LaneMessage) => [m.seq, m.sentNs, m.kernelReceivedNs, m.receivedNs];

/** Delivers three messages (stamped, unstamped, stamped) and returns what a callback and an
 * iterator saw. */
async function receive(c: Client, backend: FakeBackend): Promise<{ cb: unknown[][]; it: unknown[][] }> {
  const remote = backend.addRemote('stamped');
  const lane = await c.listen('stamped');
  const cb: unknown[][] = [];
  lane.onMessage((m) => cb.push([...pick(m), Object.keys(m).sort().join()]));
  const it: unknown[][] = [];
  const reading = (async () => {
    for await (const m of lane) if (it.push(pick(m)) === 3) break;
  })();
  backend.deliver(remote.laneId, 1, 1000, 1500, Buffer.from('a'), 1200);
  backend.deliver(remote.laneId, 2, 2000, 2500, Buffer.from('b'));
  backend.deliver(remote.laneId, 3, 3000, 3500, Buffer.from('c'), 3100);
  await until(() => it.length === 3 && cb.length === 3, 'three deliveries');
  await reading;
  return { cb, it };
}

const KEYS = 'kernelReceivedNs,laneId,payload,receivedNs,sentNs,seq';

describe('kernelReceivedNs on LaneMessage', () => {
  let h: Harness | undefined;
  let client: Client | undefined;
  afterEach(async () => {
    client?.destroy();
    await h?.cleanup();
    h = client = undefined;
  });

  it('in process: the engine view’s stamp, and 0 where the view has none', async () => {
    const backend = new FakeBackend();
    client = await connect({ backend });
    const { cb, it } = await receive(client, backend);
    expect(it).toEqual([
      [1, 1000, 1200, 1500],
      [2, 2000, 0, 2500],
      [3, 3000, 3100, 3500],
    ]);
    // Callbacks get a LaneMessage, not the engine's view (whose optional field may be missing).
    expect(cb).toEqual(it.map((row) => [...row, KEYS]));
  });

  it('over the socket: the same, carried by the DeliveryStamped frame', async () => {
    h = await startHarness();
    client = await connect({ socket: h.socketPath });
    const { cb, it } = await receive(client, h.backend);
    expect(it).toEqual([
      [1, 1000, 1200, 1500],
      [2, 2000, 0, 2500],
      [3, 3000, 3100, 3500],
    ]);
    expect(cb).toEqual(it.map((row) => [...row, KEYS]));
  });
});
