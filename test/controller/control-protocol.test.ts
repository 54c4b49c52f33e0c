// The agent ↔ controller control protocol across releases (src/control-protocol.ts): what an agent
// says of itself at registration is stored and shown, per host and per fleet; an agent of a
// protocol the controller does not serve is refused with XL_ERR_VERSION, at registration and in the
// watch (close 4426); fields an agent sends that this controller does not know are ignored, while
// the bodies people write (lanes) stay strict.
import { afterEach, describe, expect, it } from 'vitest';
import { PACKAGE_VERSION, WATCH_CLOSE_VERSION } from '../../src/control-protocol.js';
import type { StartOptions } from '../../src/controller/server.js';
import { controllerHarness, lane, makeApp } from './helpers.js';
import type { TestWatch } from './watch-client.js';

type Built = Awaited<ReturnType<typeof makeApp>>;
const built: Built[] = [];
const harness = controllerHarness();
afterEach(async () => {
  for (const b of built.splice(0)) await b.app.close();
  await harness.cleanup();
});

/** A pino destination that keeps the controller's log lines. */
function logLines(): { lines: string[]; logger: StartOptions['logger'] } {
  const lines: string[] = [];
  return { lines, logger: { level: 'warn', stream: { write: (line: string) => lines.push(line) } } };
}

async function app(opts: Parameters<typeof makeApp>[0] = {}) {
  const b = await makeApp(opts);
  built.push(b);
  return b;
}

function post(b: Built, url: string, body: unknown) {
  return b.app.inject({
    method: 'POST',
    url,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
}

const hostsOf = async (b: Built) =>
  (await b.app.inject({ url: '/v1/hosts' })).json().hosts as Record<string, unknown>[];

describe('registration across releases', () => {
  it('stores what the agent says of itself, shows it per host, and per fleet in GET /v1/health', async () => {
    const b = await app();
    const r = await post(b, '/v1/hosts/h1/register', {
      agentVersion: '0.2.0',
      protocol: 1,
      engine: 'native',
    });
    expect(r.statusCode).toBe(200);
    expect(r.json().host).toMatchObject({ name: 'h1', agentVersion: '0.2.0', protocol: 1 });
    // An agent of xlane 0.1.0 names no protocol: it speaks 1, and is shown so.
    expect((await post(b, '/v1/hosts/h2/register', { agentVersion: '0.1.0', engine: 'js' })).statusCode).toBe(
      200,
    );
    const hosts = await hostsOf(b);
    expect(hosts.find((h) => h.name === 'h1')).toMatchObject({ agentVersion: '0.2.0', protocol: 1 });
    expect(hosts.find((h) => h.name === 'h2')).toMatchObject({ agentVersion: '0.1.0', protocol: 1 });
    expect(hosts.find((h) => h.name === 'h3')).not.toHaveProperty('protocol');

    const health = (await b.app.inject({ url: '/v1/health' })).json();
    expect(health).toMatchObject({
      version: PACKAGE_VERSION,
      protocol: 1,
      agentProtocols: { min: 1, max: 1 },
    });
    expect(health.agents).toEqual([
      { agentVersion: '0.1.0', protocol: 1, hosts: 1 },
      { agentVersion: '0.2.0', protocol: 1, hosts: 1 },
    ]);

    // Both describe the agent registering now: one that says no version is not listed under the last's.
    await post(b, '/v1/hosts/h1/register', {});
    expect((await hostsOf(b)).find((h) => h.name === 'h1')).not.toHaveProperty('agentVersion');
    expect((await b.app.inject({ url: '/v1/health' })).json().agents).toEqual([
      { protocol: 1, hosts: 1 },
      { agentVersion: '0.1.0', protocol: 1, hosts: 1 },
    ]);
  });

  it('serves an agent that says more than it knows, yet still refuses a typo in a lane', async () => {
    const b = await app();
    // A later agent of the same protocol with a field added: served, the field ignored.
    const r = await post(b, '/v1/hosts/h1/register', {
      agentVersion: '0.3.0',
      protocol: 1,
      engine: 'native',
      nicQueues: 8,
    });
    expect(r.statusCode).toBe(200);
    expect(r.json().host).not.toHaveProperty('nicQueues');
    expect((await hostsOf(b)).find((h) => h.name === 'h1')).toMatchObject({
      registered: true,
      agentVersion: '0.3.0',
    });
    expect((await hostsOf(b)).find((h) => h.name === 'h1')).not.toHaveProperty('nicQueues');
    // The fields it does know keep their types.
    const wrong = await post(b, '/v1/hosts/h2/register', { engine: 5 });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.code).toBe('XL_ERR_VALIDATION');
    // What people write stays strict: a typo is not a lane with a default.
    const typo = await post(b, '/v1/lanes', { ...lane('h1', ['h2']), maxPayload: 64 });
    expect(typo.statusCode).toBe(400);
    expect(typo.json().error).toMatchObject({
      code: 'XL_ERR_VALIDATION',
      message: expect.stringMatching(/maxPayload\)/),
    });
  });

  it('refuses an agent of a protocol it does not serve with XL_ERR_VERSION, naming both versions and what to upgrade', async () => {
    const log = logLines();
    const b = await app({ logger: log.logger });
    // A body this controller's schema would refuse (engine of another shape): the protocol is the news.
    const newer = await post(b, '/v1/hosts/h1/register', {
      agentVersion: '0.9.0',
      protocol: 2,
      engine: { kind: 'native' },
    });
    expect(newer.statusCode).toBe(400);
    const e = newer.json().error;
    expect(e.code).toBe('XL_ERR_VERSION');
    expect(e.message).toContain('xlane 0.9.0');
    expect(e.message).toContain(`xlane ${PACKAGE_VERSION}`);
    expect(e.message).toMatch(/speaks control protocol 2; .* serves protocol 1: upgrade the controller/);
    expect(e.details).toEqual({
      host: 'h1',
      agentVersion: '0.9.0',
      protocol: 2,
      controllerVersion: PACKAGE_VERSION,
      served: { min: 1, max: 1 },
      upgrade: 'controller',
    });
    const older = await post(b, '/v1/hosts/h2/register', { protocol: 0 });
    expect(older.json().error).toMatchObject({
      code: 'XL_ERR_VERSION',
      message: expect.stringMatching(/upgrade the agent on h2 to a release that speaks protocol 1$/),
      details: expect.objectContaining({ upgrade: 'agent' }),
    });
    // Nothing of a refused agent is kept.
    const hosts = await hostsOf(b);
    expect(hosts.filter((h) => h.registered)).toEqual([]);
    expect(() => b.lifecycle.registerHost('h1', { protocol: 3 })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VERSION' }),
    );
    // The operator hears of it on the controller's side too (an older agent cannot tell an unknown code).
    const warned = log.lines.filter((l) => l.includes('speaks control protocol'));
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0]!)).toMatchObject({
      host: 'h1',
      protocol: 2,
      upgrade: 'controller',
      refused: 1,
    });
  });
});

describe('the watch across releases', () => {
  function closed(w: TestWatch): Promise<{ code: number; reason: string }> {
    return new Promise((resolve) =>
      w.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  it('closes a hello of a protocol it does not serve with 4426, after an XL_ERR_VERSION naming what to upgrade', async () => {
    const log = logLines();
    const { c, client } = await harness.start({ logger: log.logger });
    const w = await harness.watch(client.watchUrl('h1'));
    const done = closed(w);
    w.send({ type: 'hello', host: 'h1', version: 0, agentVersion: '0.9.0', protocol: 2 });
    expect(await w.next('error')).toMatchObject({
      code: 'XL_ERR_VERSION',
      message: expect.stringMatching(/xlane 0\.9\.0.*protocol 2.*upgrade the controller/),
    });
    expect(await done).toEqual({
      code: WATCH_CLOSE_VERSION,
      reason: 'control protocol 2 not served (1): upgrade the controller',
    });
    expect(w.messages.map((m) => m.type)).toEqual(['error']);
    expect(c.hub.connectionCount).toBe(0);
    expect(log.lines.some((l) => l.includes('speaks control protocol 2'))).toBe(true);

    // This release's hello, with a field a later agent might add, is served as ever.
    const ok = await harness.watch(client.watchUrl('h1'));
    ok.send({
      type: 'hello',
      host: 'h1',
      version: 0,
      agentVersion: PACKAGE_VERSION,
      protocol: 1,
      resume: true,
    });
    expect(await ok.next('snapshot')).toMatchObject({ version: 0, grants: [] });
  });
});
