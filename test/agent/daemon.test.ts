// startDaemon composes everything `xlane agent` runs: the agent against a real controller, the
// /metrics endpoint, the local API socket; without CAP_NET_ADMIN it runs without QoS and says so.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DaemonOptions, startDaemon, sysInterfaceExists } from '../../src/agent/daemon.js';
import { LOCAL_API_VERSION } from '../../src/agent/local-api/frames.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { startController } from '../../src/controller/server.js';
import { RawClient } from '../client/raw-client.js';
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

/** A daemon of h1/h2 on a fake engine, without kernel QoS. */
const fakeDaemon = (controller: string, host: string, socket: string): DaemonOptions => ({
  controller,
  host,
  engine: 'js',
  engineInstance: new FakeEngine(),
  socket,
  iface: 'none',
  peers: 'h1=10.0.0.1,h2=10.0.0.2',
  log: recordingLog().log,
});

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
      interfaceExists: (name) => name === 'eth0',
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

  it('refuses an --iface that names no interface before starting anything', async () => {
    const { lines, log } = recordingLog();
    const engine = new FakeEngine();
    const asked: string[] = [];
    await expect(
      startDaemon({
        host: 'h1',
        engine: 'js',
        engineInstance: engine,
        socket: '/nonexistent/x.sock',
        iface: 'nosuchdev',
        interfaceExists: (name) => {
          asked.push(name);
          return false;
        },
        peers: 'h1=10.0.0.1',
        log,
        netAdmin: true,
      }),
    ).rejects.toMatchObject({
      code: 'XL_ERR_VALIDATION',
      message: expect.stringMatching(/^no network interface nosuchdev/),
      details: { iface: 'nosuchdev' },
    });
    expect(asked).toEqual(['nosuchdev']);
    expect(engine.started).toBeUndefined();
    expect(lines).toEqual([]);
    // Without the check it would wait for a controller that is not there, instead of refusing.
  }, 5_000);

  it('looks interfaces up in /sys/class/net', () => {
    expect(sysInterfaceExists('lo')).toBe(true);
    expect(sysInterfaceExists('nosuchdev')).toBe(false);
    expect(sysInterfaceExists('../lo')).toBe(false);
  });

  it('records the lanes its applications open next to the socket, and the next daemon closes those a killed one left; a daemon refused for a live socket touches none', async () => {
    const c = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
    cleanups.push(() => c.close());
    const client = new ControllerClient({ url: c.url });
    const dir = mkdtempSync(join(tmpdir(), 'xlane-daemon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const socket = join(dir, 'agent.sock');
    const opts = (host: string, sock = socket) => fakeDaemon(c.url, host, sock);
    const h2 = await startDaemon(opts('h2', join(dir, 'h2.sock')));
    cleanups.push(() => h2.close());
    await h2.agent.ready;
    const first = await startDaemon(opts('h1'));
    let firstClosed = false;
    cleanups.push(async () => {
      if (!firstClosed) await first.close();
    });
    await first.agent.ready;
    const app = await RawClient.open(socket);
    cleanups.push(() => {
      app.sock.destroy();
    });
    expect((await app.request('hello', { version: LOCAL_API_VERSION })).ok).toBe(true);
    const opened = (await app.request('open', {
      request: { receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 100_000 },
      waitLiveMs: 5_000,
    })) as { result: { lane: { laneId: string } } };
    const laneId = opened.result.lane.laneId;
    const recorded = () =>
      (JSON.parse(readFileSync(`${socket}.app-lanes`, 'utf8')) as { lanes: { id: string }[] }).lanes.map(
        (l) => l.id,
      );
    expect(recorded()).toEqual([laneId]);

    // A second agent on the same socket is refused, and leaves the live one's lane alone.
    await expect(startDaemon(opts('h1'))).rejects.toMatchObject({ code: 'XL_ERR_DUPLICATE' });
    expect((await client.lanes()).map((l) => l.id)).toEqual([laneId]);
    expect(recorded()).toEqual([laneId]);

    // As if killed: the connection ends, but nothing closes its lane at the controller.
    first.agent.closeLane = async () => {};
    await first.close();
    firstClosed = true;
    expect((await client.lanes()).map((l) => l.id)).toEqual([laneId]);

    const next = await startDaemon(opts('h1'));
    cleanups.push(() => next.close());
    await next.agent.ready;
    for (let i = 0; i < 500 && (await client.lanes()).length > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await client.lanes()).toEqual([]);
    expect(recorded()).toEqual([]);
  });

  it('with --state-dir, the record outlives the socket directory (a /run wiped by a reboot)', async () => {
    const c = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
    cleanups.push(() => c.close());
    const client = new ControllerClient({ url: c.url });
    const dir = mkdtempSync(join(tmpdir(), 'xlane-daemon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const run = join(dir, 'run');
    const stateDir = join(dir, 'var', 'lib', 'xlane');
    const opts = (host: string, socket: string) => ({ ...fakeDaemon(c.url, host, socket), stateDir });
    const h2 = await startDaemon(opts('h2', join(dir, 'h2.sock')));
    cleanups.push(() => h2.close());
    const first = await startDaemon(opts('h1', join(run, 'agent.sock')));
    await first.agent.ready;
    const app = await RawClient.open(join(run, 'agent.sock'));
    expect((await app.request('hello', { version: LOCAL_API_VERSION })).ok).toBe(true);
    const opened = (await app.request('open', {
      request: { receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 100_000 },
      waitLiveMs: 5_000,
    })) as { result: { lane: { laneId: string } } };
    const laneId = opened.result.lane.laneId;
    expect(JSON.parse(readFileSync(join(stateDir, 'h1.app-lanes'), 'utf8')).lanes).toMatchObject([
      { id: laneId },
    ]);
    // The machine went down: the agent and its application with it, and /run with them.
    first.agent.closeLane = async () => {};
    app.sock.destroy();
    await first.close();
    rmSync(run, { recursive: true, force: true });
    expect((await client.lanes()).map((l) => l.id)).toEqual([laneId]);

    const next = await startDaemon(opts('h1', join(run, 'agent.sock')));
    cleanups.push(() => next.close());
    await next.agent.ready;
    for (let i = 0; i < 500 && (await client.lanes()).length > 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(await client.lanes()).toEqual([]);
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
