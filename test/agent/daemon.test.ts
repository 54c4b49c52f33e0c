// startDaemon composes everything `xlane agent` runs: the agent against a real controller, the
// /metrics endpoint, the local API socket; without CAP_NET_ADMIN it runs without QoS and says so.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon } from '../../src/agent/daemon.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { startController } from '../../src/controller/server.js';
import { testbed } from '../controller/helpers.js';
import { FakeEngine } from './fake-engine.js';
import { LoopbackEngine } from './loopback-engine.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function recordingLog() {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_obj: object, msg: string) => lines.push({ level, msg });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('startDaemon', () => {
  it('runs agent, metrics and local socket; warns once without CAP_NET_ADMIN; closes cleanly', async () => {
    const c = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
    cleanups.push(() => c.close());
    const dir = mkdtempSync(join(tmpdir(), 'xlane-daemon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, 'run', 'agent.sock');
    const { lines, log } = recordingLog();
    const engine = new FakeEngine();
    const daemon = await startDaemon({
      controller: c.url,
      host: 'h2',
      engine: 'js',
      engineInstance: engine,
      socket,
      iface: 'eth0',
      peers: 'h1=10.0.0.1,h2=10.0.0.2',
      metrics: '127.0.0.1:0',
      log,
      netAdmin: false,
    });
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await daemon.close();
    });
    await daemon.agent.ready;

    expect(lines.filter((l) => l.level === 'warn' && /CAP_NET_ADMIN/.test(l.msg))).toHaveLength(1);
    expect(daemon.agent.status()).toMatchObject({ connected: true, qos: false });
    expect(engine.started).toEqual({ bindAddress: '10.0.0.2', port: 7400 });
    expect(statSync(socket).mode & 0o777).toBe(0o660);
    const text = await (await fetch(daemon.metrics!.url)).text();
    expect(text).toContain('xlane_controller_connected 1');

    await daemon.close();
    closed = true;
    expect(existsSync(socket)).toBe(false);
    expect(engine.closed).toBe(true);
  });

  it.each([
    [undefined, 1],
    ['none', 0],
  ])('--iface %s: no QoS, and a warning only when the interface was not given', async (iface, warnings) => {
    const c = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
    cleanups.push(() => c.close());
    const dir = mkdtempSync(join(tmpdir(), 'xlane-daemon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { lines, log } = recordingLog();
    const daemon = await startDaemon({
      controller: c.url,
      host: 'h2',
      engine: 'js',
      engineInstance: new FakeEngine(),
      socket: join(dir, 'agent.sock'),
      ...(iface !== undefined ? { iface } : {}),
      peers: 'h1=10.0.0.1,h2=10.0.0.2',
      log,
      // Even with the capability, no interface means no tc call.
      netAdmin: true,
    });
    cleanups.push(() => daemon.close());
    await daemon.agent.ready;
    expect(lines.filter((l) => l.level === 'warn' && /--iface/.test(l.msg))).toHaveLength(warnings);
    expect(lines.some((l) => /CAP_NET_ADMIN/.test(l.msg))).toBe(false);
    expect(daemon.agent.status()).toMatchObject({ qos: false });
  });

  it('refuses a bad --peers before starting anything', async () => {
    const { log } = recordingLog();
    await expect(
      startDaemon({ host: 'h1', engine: 'js', socket: '/nonexistent/x.sock', peers: 'h1=nowhere', log }),
    ).rejects.toMatchObject({ code: 'XL_ERR_VALIDATION' });
  });

  it('--host-bounds measure with --bounds-*: the policy reaches the calibration and the controller', async () => {
    const c = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
    cleanups.push(() => c.close());
    const dir = mkdtempSync(join(tmpdir(), 'xlane-daemon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { log } = recordingLog();
    const daemon = await startDaemon({
      controller: c.url,
      host: 'h2',
      engine: 'js',
      engineInstance: new LoopbackEngine(),
      socket: join(dir, 'agent.sock'),
      iface: 'none',
      peers: 'h1=10.0.0.1,h2=10.0.0.2',
      log,
      netAdmin: false,
      hostBounds: 'measure',
      calibrateSeconds: 0.2,
      boundsPolicy: { safetyFactor: 2, sendShare: 0.25, keepObservedMax: false, minFactor: 1 },
    });
    cleanups.push(() => daemon.close());
    await daemon.agent.ready;
    const h2 = (await new ControllerClient({ url: c.url }).hosts()).find((h) => h.name === 'h2')!;
    // Every loopback sample is 20 µs: total max 20 × 2 = 40 µs, min 20 µs × 1, a quarter of each
    // to the send side.
    expect(h2.bounds).toMatchObject({
      source: 'measured',
      sendLatency: { minNs: 5_000, maxNs: 10_000 },
      recvLatency: { minNs: 15_000, maxNs: 30_000 },
      measured: { safetyFactor: 2, sendShare: 0.25, keepObservedMax: false, minFactor: 1 },
    });
  });
});
