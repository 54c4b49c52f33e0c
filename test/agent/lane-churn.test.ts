// Lane churn through two daemons and a real controller (in-process, fake engines): an application
// on h1 opens and closes lane after lane to h2, whose long-lived application listens to each one.
// What an operator would see after days of it must be what they saw before: no lane left in the
// agents' subscriber tables, the app-lanes file, or the per-lane /metrics series.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Daemon, startDaemon } from '../../src/agent/daemon.js';
import { silentLog } from '../../src/agent/log.js';
import { connect } from '../../src/client/connect.js';
import { startTestController } from '../controller/helpers.js';
import { FakeEngine } from './fake-engine.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function daemonFor(host: string, url: string, dir: string): Promise<Daemon> {
  const d = await startDaemon({
    controller: url,
    host,
    engine: 'js',
    engineInstance: new FakeEngine(),
    socket: join(dir, `${host}.sock`),
    iface: 'none',
    peers: 'h1=10.0.0.1,h2=10.0.0.2,h3=10.0.0.3',
    metrics: '127.0.0.1:0',
    log: silentLog,
  });
  cleanups.push(() => d.close());
  await d.agent.ready;
  return d;
}

/** Series of /metrics that name a lane. */
async function laneSeries(d: Daemon): Promise<string[]> {
  const text = await (await fetch(`${d.metrics!.url}`)).text();
  return text.split('\n').filter((l) => !l.startsWith('#') && l.includes('lane="'));
}

/** Local subscribers (connections' lanes) the agent holds: internal, where a lane would linger. */
const subscribedLanes = (d: Daemon) => (d.agent as unknown as { subs: Map<string, unknown> }).subs.size;

describe('lane churn through the agents', () => {
  it('leaves no lane behind in subscriber tables, the app-lanes file or /metrics', async () => {
    const c = await startTestController();
    cleanups.push(() => c.close());
    const dir = mkdtempSync(join(tmpdir(), 'xlane-churn-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const h1 = await daemonFor('h1', c.url, dir);
    const h2 = await daemonFor('h2', c.url, dir);
    const before = { h1: await laneSeries(h1), h2: await laneSeries(h2) };

    const tx = await connect({ socket: join(dir, 'h1.sock') });
    const rx = await connect({ socket: join(dir, 'h2.sock') });
    cleanups.push(() => tx.destroy());
    cleanups.push(() => rx.destroy());
    let sawSeries = false;
    for (let i = 0; i < 40; i++) {
      const lane = await tx.openLane({ to: 'h2', maxPayloadBytes: 64, minPeriodNs: 1_000_000 });
      const heard = await rx.listen(lane.id);
      const ended = new Promise((r) => heard.once('closed', r));
      if (i === 0) sawSeries = (await laneSeries(h2)).length > 0;
      await lane.close();
      await ended;
    }

    expect(sawSeries).toBe(true);
    expect(rx.openLanes).toEqual([]);
    expect(subscribedLanes(h1)).toBe(0);
    expect(subscribedLanes(h2)).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'h1.sock.app-lanes'), 'utf8'))).toEqual({ lanes: [] });
    expect({ h1: await laneSeries(h1), h2: await laneSeries(h2) }).toEqual(before);
    expect(h2.localApi.connections()).toBe(1);
  });
});
