// PUT / DELETE /v1/hosts/:name/latency through fastify's inject() on the real allocator: validation,
// the token, grants re-issued with the new window, refusal when a deadline would break, provenance in
// GET /v1/hosts, and persistence across a store reopen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { carryMeasuredBounds, hostBoundsView, withHostBounds } from '../../src/controller/host-bounds.js';
import type { HostUpdate, HostView, LaneView } from '../../src/controller/lifecycle.js';
import { topologyToYaml } from '../../src/topology/load.js';
import { lane, makeApp, testbed } from './helpers.js';

type Built = Awaited<ReturnType<typeof makeApp>>;
const open: Built[] = [];
const dirs: string[] = [];
async function app(opts: Parameters<typeof makeApp>[0] = {}) {
  const b = await makeApp(opts);
  open.push(b);
  return b;
}
afterEach(async () => {
  for (const b of open.splice(0)) await b.app.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function send(b: Built, method: 'PUT' | 'POST' | 'DELETE', url: string, body?: unknown, token?: string) {
  return b.app.inject({
    method,
    url,
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  });
}
const errorOf = (res: { json(): unknown }) =>
  (res.json() as { error: { code: string; message: string; details?: Record<string, unknown> } }).error;
const hostsOf = async (b: Built) => (await b.app.inject({ url: '/v1/hosts' })).json().hosts as HostView[];
const openLane = async (b: Built, body: unknown) =>
  (await send(b, 'POST', '/v1/lanes', body)).json().lane as LaneView;
const rx = (l: LaneView) => l.grant.receivers[0]!;

const MEASURED = {
  sendLatency: { minNs: 4_000, maxNs: 120_000 },
  recvLatency: { minNs: 4_000, maxNs: 120_000 },
  measured: {
    samples: 20_000,
    periodNs: 100_000,
    durationNs: 2e9,
    method: 'loopback',
    engine: 'js',
    quantile: 0.9999,
    safetyFactor: 1.5,
    sendShare: 0.5,
    minFactor: 0.5,
    lost: 0,
    observed: { minNs: 8_000, p50Ns: 30_000, quantileNs: 150_000, maxNs: 160_000 },
  },
};

describe('PUT /v1/hosts/:name/latency', () => {
  it('re-issues every grant through the host with the new window, and GET /v1/hosts says measured', async () => {
    const b = await app();
    const l13 = await openLane(b, lane('h1', ['h3']));
    const l23 = await openLane(b, lane('h2', ['h3']));
    const updates: HostUpdate[] = [];
    b.lifecycle.onUpdate((u) => updates.push(u));

    const res = await send(b, 'PUT', '/v1/hosts/h1/latency', MEASURED);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    // h1's declared send bound was 5..50 µs: its lane's window moves by at least the difference; the
    // lane's larger send jitter also grows its burst at s1→h3, so h2's lane through that port moves too
    expect(body.changed.map((c: { laneId: string }) => c.laneId).sort()).toEqual([l13.id, l23.id]);
    expect(body.changed.every((c: { reasons: string[] }) => c.reasons.includes('window'))).toBe(true);
    const after = (await b.app.inject({ url: `/v1/lanes/${l13.id}` })).json().lane as LaneView;
    expect(rx(after).lambdaMaxNs - rx(l13).lambdaMaxNs).toBeGreaterThanOrEqual(120_000 - 50_000);
    expect(rx(after).lambdaMinNs - rx(l13).lambdaMinNs).toBe(4_000 - 5_000);
    const after23 = (await b.app.inject({ url: `/v1/lanes/${l23.id}` })).json().lane as LaneView;
    expect(rx(after23).lambdaMaxNs).toBeGreaterThan(rx(l23).lambdaMaxNs);
    expect(rx(after23).lambdaMinNs).toBe(rx(l23).lambdaMinNs);
    // pushed to both ends of both lanes
    expect(updates.map((u) => u.host).sort()).toEqual(['h1', 'h2', 'h3']);
    expect(updates.find((u) => u.host === 'h1')!.grants.map((g) => g.laneId)).toEqual([l13.id]);

    const h1 = (await hostsOf(b)).find((h) => h.name === 'h1')!;
    expect(h1.bounds).toMatchObject({
      source: 'measured',
      sendLatency: MEASURED.sendLatency,
      recvLatency: MEASURED.recvLatency,
      declared: {
        sendLatency: { minNs: 5_000, maxNs: 50_000 },
        recvLatency: { minNs: 5_000, maxNs: 50_000 },
      },
      measured: MEASURED.measured,
    });
    expect(Date.parse(h1.bounds.at!)).not.toBeNaN();
    expect(body.host.bounds.source).toBe('measured');
    const h2 = (await hostsOf(b)).find((h) => h.name === 'h2')!;
    expect(h2.bounds).toEqual({
      source: 'declared',
      sendLatency: { minNs: 5_000, maxNs: 50_000 },
      recvLatency: { minNs: 5_000, maxNs: 50_000 },
      releaseJitterNs: 20_000, // testbed-3's, untouched by the measurement
    });
    const topo = (await b.app.inject({ url: '/v1/topology' })).json();
    expect(topo.hosts.find((h: { name: string }) => h.name === 'h1').send).toEqual(MEASURED.sendLatency);
  });

  it('without a measurement the bounds show as set by hand; DELETE goes back to the declared ones', async () => {
    const b = await app();
    const l = await openLane(b, lane('h1', ['h3']));
    const { measured: _m, ...bare } = MEASURED;
    const put = await send(b, 'PUT', '/v1/hosts/h3/latency', bare);
    expect(put.statusCode).toBe(200);
    expect(put.json().host.bounds.source).toBe('set');
    expect(put.json().host.bounds.measured).toBeUndefined();
    const del = await send(b, 'DELETE', '/v1/hosts/h3/latency');
    expect(del.statusCode).toBe(200);
    expect(del.json().host.bounds.source).toBe('declared');
    expect(del.json().changed.map((c: { laneId: string }) => c.laneId)).toEqual([l.id]);
    expect(rx((await b.app.inject({ url: `/v1/lanes/${l.id}` })).json().lane)).toEqual(rx(l));
    expect((await b.app.inject({ url: '/v1/topology' })).json()).toEqual(testbed());
    // nothing to undo: a no-op
    const again = await send(b, 'DELETE', '/v1/hosts/h3/latency');
    expect(again.json()).toMatchObject({ changed: [], revoked: [] });
  });

  it('refuses (and changes nothing) when a lane deadline would break, unless ?force=true', async () => {
    const b = await app();
    const probe = await openLane(b, lane('h1', ['h3']));
    await send(b, 'DELETE', `/v1/lanes/${probe.id}`);
    const tight = await openLane(b, lane('h1', ['h3'], { deadlineNs: rx(probe).lambdaMaxNs + 10_000 }));
    expect(tight.state).toBe('live');
    const topoBefore = (await b.app.inject({ url: '/v1/topology' })).json();

    const refused = await send(b, 'PUT', '/v1/hosts/h3/latency', MEASURED);
    expect(refused.statusCode).toBe(409);
    expect(errorOf(refused).code).toBe('XL_ERR_TOPOLOGY_CONFLICT');
    expect(errorOf(refused).details?.lanes).toEqual([tight.id]);
    expect((await b.app.inject({ url: '/v1/topology' })).json()).toEqual(topoBefore);
    expect((await hostsOf(b)).find((h) => h.name === 'h3')!.bounds.source).toBe('declared');
    expect((await b.app.inject({ url: `/v1/lanes/${tight.id}` })).json().lane).toEqual(tight);

    const forced = await send(b, 'PUT', '/v1/hosts/h3/latency?force=true', MEASURED);
    expect(forced.statusCode).toBe(200);
    expect(forced.json().revoked).toEqual([tight.id]);
    expect(forced.json().host.bounds.source).toBe('measured');
    expect((await b.app.inject({ url: '/v1/lanes' })).json().lanes).toEqual([]);
  });

  it('needs the bearer token when one is set', async () => {
    const b = await app({ token: 's3cret' });
    const no = await send(b, 'PUT', '/v1/hosts/h1/latency', MEASURED);
    expect(no.statusCode).toBe(401);
    expect(errorOf(no).code).toBe('XL_ERR_UNAUTHORIZED');
    const wrong = await send(b, 'PUT', '/v1/hosts/h1/latency', MEASURED, 'nope');
    expect(wrong.statusCode).toBe(401);
    expect(errorOf(await send(b, 'DELETE', '/v1/hosts/h1/latency')).code).toBe('XL_ERR_UNAUTHORIZED');
    expect((await hostsOf(b)).find((h) => h.name === 'h1')!.bounds.source).toBe('declared');
    const ok = await send(b, 'PUT', '/v1/hosts/h1/latency', MEASURED, 's3cret');
    expect(ok.statusCode).toBe(200);
  });

  const invalid: [string, string, unknown, number, string, RegExp?][] = [
    [
      'missing recvLatency',
      'h1',
      { sendLatency: MEASURED.sendLatency },
      400,
      'XL_ERR_VALIDATION',
      /recvLatency/,
    ],
    [
      'unknown field',
      'h1',
      { ...MEASURED, sendLatency: { minNs: 1, maxNs: 2, p99: 3 } },
      400,
      'XL_ERR_VALIDATION',
      /p99/,
    ],
    [
      'negative bound',
      'h1',
      { ...MEASURED, sendLatency: { minNs: -1, maxNs: 2 } },
      400,
      'XL_ERR_VALIDATION',
      /minNs/,
    ],
    [
      'min above max',
      'h1',
      { ...MEASURED, recvLatency: { minNs: 9_000, maxNs: 2_000 } },
      400,
      'XL_ERR_VALIDATION',
      /recvLatency/,
    ],
    [
      'lower-bound factor above 1',
      'h1',
      { ...MEASURED, measured: { ...MEASURED.measured, minFactor: 1.2 } },
      400,
      'XL_ERR_VALIDATION',
      /minFactor/,
    ],
    [
      'measurement without samples',
      'h1',
      { ...MEASURED, measured: { periodNs: 100_000 } },
      400,
      'XL_ERR_VALIDATION',
      /samples/,
    ],
    ['unknown host', 'h9', MEASURED, 404, 'XL_ERR_UNKNOWN_HOST', /h9/],
  ];
  for (const [what, host, body, status, code, message] of invalid) {
    it(`refuses: ${what}`, async () => {
      const b = await app();
      const res = await send(b, 'PUT', `/v1/hosts/${host}/latency`, body);
      expect(res.statusCode).toBe(status);
      expect(errorOf(res).code).toBe(code);
      if (message) expect(errorOf(res).message).toMatch(message);
      expect((await b.app.inject({ url: '/v1/topology' })).json()).toEqual(testbed());
    });
  }

  it('measured bounds survive a restart on the same file, without a topology-mismatch warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlane-host-latency-'));
    dirs.push(dir);
    const dbPath = join(dir, 'xlane.db');
    const first = await makeApp({ dbPath });
    const l = (await send(first, 'POST', '/v1/lanes', lane('h1', ['h2']))).json().lane as LaneView;
    expect((await send(first, 'PUT', '/v1/hosts/h2/latency', MEASURED)).statusCode).toBe(200);
    const lanesBefore = (await first.app.inject({ url: '/v1/lanes' })).json();
    const hostsBefore = await hostsOf(first);
    await first.app.close();

    const again = await app({ dbPath });
    expect(again.lifecycle.topologyMismatch).toBe(false);
    expect(await hostsOf(again)).toEqual(hostsBefore);
    expect((await again.app.inject({ url: '/v1/lanes' })).json()).toEqual(lanesBefore);
    const h2 = (await hostsOf(again)).find((h) => h.name === 'h2')!;
    expect(h2.bounds).toMatchObject({ source: 'measured', recvLatency: MEASURED.recvLatency });
    expect(rx((await again.app.inject({ url: `/v1/lanes/${l.id}` })).json().lane).lambdaMaxNs).toBe(
      rx(l).lambdaMaxNs + 120_000 - 50_000,
    );
    expect(again.lifecycle.host('h2').bounds.measured).toEqual(MEASURED.measured);
  });

  it('a topology replacement keeps measured bounds unless it declares new ones for that host', async () => {
    const b = await app();
    await send(b, 'PUT', '/v1/hosts/h1/latency', MEASURED);
    const file = testbed();
    const same = await b.app.inject({
      method: 'PUT',
      url: '/v1/topology',
      headers: { 'content-type': 'application/yaml' },
      payload: topologyToYaml(file),
    });
    expect(same.statusCode).toBe(200);
    expect((await hostsOf(b)).find((h) => h.name === 'h1')!.bounds.source).toBe('measured');

    const redeclared = withHostBounds(
      file,
      'h1',
      { minNs: 1_000, maxNs: 20_000 },
      { minNs: 1_000, maxNs: 20_000 },
    );
    await b.app.inject({
      method: 'PUT',
      url: '/v1/topology',
      headers: { 'content-type': 'application/yaml' },
      payload: topologyToYaml(redeclared),
    });
    const h1 = (await hostsOf(b)).find((h) => h.name === 'h1')!;
    expect(h1.bounds).toEqual({
      source: 'declared',
      sendLatency: { minNs: 1_000, maxNs: 20_000 },
      recvLatency: { minNs: 1_000, maxNs: 20_000 },
      releaseJitterNs: 20_000,
    });
  });
});

describe('host bounds (pure)', () => {
  const spec = testbed();
  const declared = { send: spec.hosts[0]!.send, recv: spec.hosts[0]!.recv };
  const record = {
    source: 'measured' as const,
    at: '2025-01-01T00:00:00.000Z',
    send: { minNs: 1, maxNs: 2 },
    recv: { minNs: 3, maxNs: 4 },
    declared,
  };
  const records = new Map([['h1', { bounds: record }]]);

  it('carries a measurement over a spec that leaves the host as declared, or already carries it', () => {
    const carried = carryMeasuredBounds(spec, records);
    expect(carried.cleared).toEqual([]);
    expect(carried.spec.hosts[0]).toMatchObject({ send: record.send, recv: record.recv });
    expect(carried.spec.hosts.slice(1)).toEqual(spec.hosts.slice(1));
    expect(carryMeasuredBounds(carried.spec, records)).toEqual({ spec: carried.spec, cleared: [] });
  });

  it('clears it when the spec declares other bounds for the host', () => {
    const other = withHostBounds(spec, 'h1', { minNs: 7, maxNs: 8 }, declared.recv);
    expect(carryMeasuredBounds(other, records)).toEqual({ spec: other, cleared: ['h1'] });
  });

  it('the view trusts the record only while the topology carries its bounds', () => {
    expect(hostBoundsView(spec, 'h1', record).source).toBe('declared');
    const carried = carryMeasuredBounds(spec, records).spec;
    expect(hostBoundsView(carried, 'h1', record)).toMatchObject({ source: 'measured', at: record.at });
  });
});
