// An agent of the next release (control protocol 2, mocked) against a REAL controller in-process
// that serves protocol 1 only, until the test "upgrades" it by widening what it serves: the agent is
// refused with XL_ERR_VERSION at registration (and its hello with close 4426), logs it as an error
// naming the side to upgrade, keeps retrying with its backoff, and gets in once the controller
// serves its protocol, with nothing done on its side.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import type { AgentLog } from '../../src/agent/log.js';
import { WatchClient } from '../../src/agent/watch-client.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { WATCH_CLOSE_VERSION } from '../../src/control-protocol.js';
import { type RunningController, startController } from '../../src/controller/server.js';
import { EXACT_WINDOWS, testbed } from '../controller/helpers.js';
import { FakeEngine } from './fake-engine.js';
import { PEERS } from './grants.js';

const served = vi.hoisted(() => ({ range: { min: 1, max: 1 } }));
vi.mock('../../src/control-protocol.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/control-protocol.js')>();
  return {
    ...real,
    // The agent in this file is of the next release...
    CONTROL_PROTOCOL: 2,
    // ...and the controller serves what the test says: its upgrade is one assignment.
    get AGENT_PROTOCOLS() {
      return served.range;
    },
  };
});

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  served.range = { min: 1, max: 1 };
});

async function controller(): Promise<RunningController> {
  const c = await startController({
    topology: testbed(),
    dbPath: ':memory:',
    listen: '127.0.0.1:0',
    allocator: EXACT_WINDOWS,
  });
  cleanups.push(() => c.close());
  return c;
}

type Line = { level: 'info' | 'warn' | 'error'; obj: Record<string, unknown>; msg: string };
function recordingLog(): { lines: Line[]; log: AgentLog } {
  const lines: Line[] = [];
  const rec = (level: Line['level']) => (obj: object, msg: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, log: { info: rec('info'), warn: rec('warn'), error: rec('error') } };
}

/** Counts the hellos the controller's hub is sent. */
function countHellos(c: RunningController): { count: number } {
  const seen = { count: 0 };
  const hub = c.hub as unknown as { handle(conn: unknown, text: string | undefined, q?: string): void };
  const handle = hub.handle.bind(c.hub);
  hub.handle = (conn, text, q) => {
    if ((JSON.parse(text ?? 'null') as { type?: string })?.type === 'hello') seen.count++;
    handle(conn, text, q);
  };
  return seen;
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 10));
}

const refusals = (lines: Line[]) => lines.filter((l) => l.obj.code === 'XL_ERR_VERSION');

describe('an agent of a protocol the controller does not serve', () => {
  it('is refused at registration, says why as an error, retries, and gets in once the controller is upgraded', async () => {
    const c = await controller();
    let attempts = 0;
    class Counting extends ControllerClient {
      override registerHost(...args: Parameters<ControllerClient['registerHost']>) {
        attempts++;
        return super.registerHost(...args);
      }
    }
    const client = new Counting({ url: c.url });
    const { lines, log } = recordingLog();
    const agent = await Agent.start({
      host: 'h1',
      controller: client,
      engine: new FakeEngine(),
      peers: PEERS,
      backoff: { initialMs: 20, maxMs: 100 },
      clockDomain: null,
      log,
    });
    cleanups.push(() => agent.close());

    await until(() => attempts >= 4);
    const said = refusals(lines);
    // Said once, as an error, with the controller's words: both versions, and what to upgrade.
    expect(said).toHaveLength(1);
    expect(said[0]!.level).toBe('error');
    expect(said[0]!.obj).toMatchObject({ protocol: 2 });
    expect(said[0]!.msg).toMatch(
      /speaks control protocol 2; this controller \(xlane [^)]+\) serves protocol 1: upgrade the controller/,
    );
    expect(agent.status().connected).toBe(false);
    expect((await client.hosts()).find((h) => h.name === 'h1')).toMatchObject({ registered: false });

    served.range = { min: 1, max: 2 };
    await agent.ready;
    expect((await client.hosts()).find((h) => h.name === 'h1')).toMatchObject({
      registered: true,
      connected: true,
      protocol: 2,
    });
    expect(refusals(lines)).toHaveLength(1);
  });

  it('has its hello closed with 4426; the watch client logs the refusal and retries until served', async () => {
    const c = await controller();
    const hellos = countHellos(c);
    const client = new ControllerClient({ url: c.url });
    const { lines, log } = recordingLog();
    let snapshots = 0;
    // No registration before the watch: the hello is the first the controller hears of it.
    const watch = new WatchClient(
      {
        url: client.watchUrl('h2'),
        host: 'h2',
        lastVersion: () => 0,
        backoff: { initialMs: 20, maxMs: 100 },
        log,
      },
      { onSnapshot: () => ++snapshots > 0, onUpdate: () => true },
    );
    cleanups.push(() => watch.close());
    const closes: number[] = [];
    const hub = c.hub as unknown as { drop(conn: unknown, code: number, reason: string): void };
    const drop = hub.drop.bind(c.hub);
    hub.drop = (conn, code, reason) => {
      closes.push(code);
      drop(conn, code, reason);
    };
    watch.start();

    await until(() => hellos.count >= 3 && closes.length >= 2);
    expect(closes.every((code) => code === WATCH_CLOSE_VERSION)).toBe(true);
    expect(snapshots).toBe(0);
    const said = refusals(lines);
    expect(said).toHaveLength(1);
    expect(said[0]!.level).toBe('error');
    // The controller's whole message, not only the close reason's gist.
    expect(said[0]!.msg).toMatch(
      /the agent of h2 \(xlane [^)]+\) speaks control protocol 2; .*upgrade the controller/,
    );

    served.range = { min: 1, max: 2 };
    await until(() => watch.connected);
    expect(snapshots).toBe(1);
  });
});
