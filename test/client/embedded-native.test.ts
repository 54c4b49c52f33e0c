// connect({ embedded: { engine: 'native' } }) against a real controller on loopback: the C engine
// really runs (the controller records the engine kind each agent registers with), its kernel receive
// stamps reach the application's LaneMessage, and without a loadable addon it is the agent's
// fallback — the js engine, one XL_NATIVE_FALLBACK warning, and kernelReceivedNs 0 (unknown).
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningController, startController } from '../../src/controller/index.js';
import { type Client, connect, type Lane, type LaneMessage } from '../../src/index.js';
import { loadTopologyFile } from '../../src/topology/load.js';
import { skipReason } from '../engine/native-helpers.js';

const TESTBED = fileURLToPath(new URL('../../examples/testbed-3.yaml', import.meta.url));
const PEERS = { h1: '127.0.0.1', h2: '127.0.0.2', h3: '127.0.0.3' };

/** A UDP port free on every loopback address the hosts use (the topology's express port). */
async function freePort(): Promise<number> {
  for (;;) {
    const held: dgram.Socket[] = [];
    let port = 0;
    let ok = true;
    for (const address of Object.values(PEERS)) {
      const s = dgram.createSocket('udp4');
      held.push(s);
      ok = await new Promise<boolean>((r) => {
        s.once('error', () => r(false));
        s.bind(port, address, () => r(true));
      });
      if (!ok) break;
      port = s.address().port;
    }
    for (const s of held) s.close();
    if (ok) return port;
  }
}

async function eventually(cond: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Sends `n` messages at twice π_min, each after the previous one arrived, and returns copies. */
async function exchange(tx: Lane, rx: Lane, n: number): Promise<LaneMessage[]> {
  const got: LaneMessage[] = [];
  const off = rx.onMessage((m) => got.push({ ...m, payload: Uint8Array.prototype.slice.call(m.payload) }));
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, (2 * tx.grant.minPeriodNs) / 1e6));
    tx.send(Buffer.from(`m${i}`));
    await eventually(() => got.length > i, `message ${i}`);
  }
  off();
  return got;
}

describe.skipIf(skipReason !== '')('embedded clients with the native engine', () => {
  let controller: RunningController;
  let h1: Client;
  let h2: Client;

  const engineOf = async (host: string) => {
    const r = await fetch(`${controller.url}/v1/hosts`);
    const { hosts } = (await r.json()) as { hosts: { name: string; registered: boolean; engine?: string }[] };
    return hosts.find((h) => h.name === host && h.registered)?.engine;
  };

  beforeAll(async () => {
    const topology = { ...loadTopologyFile(TESTBED), expressPort: await freePort() };
    controller = await startController({
      topology,
      dbPath: ':memory:',
      listen: '127.0.0.1:0',
      logger: false,
    });
    const common = { controller: controller.url, peers: PEERS, engine: 'native' as const };
    h2 = await connect({ embedded: { ...common, host: 'h2' } });
    h1 = await connect({ embedded: { ...common, host: 'h1' } });
  });

  afterAll(async () => {
    await h1?.close();
    await h2?.close();
    await controller?.close();
  });

  it("runs the C engine for engine: 'native', and its kernel stamps reach LaneMessage", async () => {
    await eventually(async () => (await engineOf('h1')) === 'native', 'h1 registered with the native engine');
    expect(await engineOf('h2')).toBe('native');

    const tx = await h1.openLane({ to: 'h2', name: 'stamped', maxPayloadBytes: 16, minPeriodNs: 500_000 });
    const rx = await h2.listen('stamped');
    const got = await exchange(tx, rx, 10);
    expect(got.map((m) => Buffer.from(m.payload).toString())).toEqual(
      [...Array(10).keys()].map((i) => `m${i}`),
    );
    for (const m of got) {
      // One host, one CLOCK_MONOTONIC: the sender's stamp, then the kernel's, then the engine's.
      expect(m.kernelReceivedNs).toBeGreaterThan(0);
      expect(m.kernelReceivedNs).toBeGreaterThanOrEqual(m.sentNs);
      expect(m.kernelReceivedNs).toBeLessThanOrEqual(m.receivedNs);
    }
    await tx.close();
  });

  it('falls back to the js engine with one warning when the addon does not load; unknown is 0', async () => {
    const saved = process.env.XLANE_NATIVE_ADDON;
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    let h3: Client | undefined;
    try {
      process.env.XLANE_NATIVE_ADDON = '/nonexistent/xlane_engine.node';
      h3 = await connect({
        embedded: { controller: controller.url, peers: PEERS, host: 'h3', engine: 'native' },
      });
      const fallback = warn.mock.calls.filter(
        (c) => (c[1] as { code?: string })?.code === 'XL_NATIVE_FALLBACK',
      );
      expect(fallback).toHaveLength(1);
      expect(String(fallback[0]![0])).toMatch(/native engine unavailable .*js engine instead/);
      await eventually(async () => (await engineOf('h3')) === 'js', 'h3 registered with the js engine');

      const tx = await h1.openLane({
        to: 'h3',
        name: 'unstamped',
        maxPayloadBytes: 16,
        minPeriodNs: 500_000,
      });
      const rx = await h3.listen('unstamped');
      const got = await exchange(tx, rx, 3);
      expect(got.map((m) => m.kernelReceivedNs)).toEqual([0, 0, 0]);
      await tx.close();
    } finally {
      warn.mockRestore();
      if (saved === undefined) delete process.env.XLANE_NATIVE_ADDON;
      else process.env.XLANE_NATIVE_ADDON = saved;
      await h3?.close();
    }
  });

  it('refuses an engine kind it does not know', async () => {
    await expect(
      // @ts-expect-error: not an EngineKind
      connect({ embedded: { controller: controller.url, peers: PEERS, host: 'h3', engine: 'auto' } }),
    ).rejects.toMatchObject({ code: 'XL_ERR_VALIDATION' });
  });
});
