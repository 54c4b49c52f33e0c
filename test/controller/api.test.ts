// Every route and every error of the /v1 API through fastify's inject(), on the real allocator;
// malformed HTTP, which inject() cannot send, through a raw socket.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startController } from '../../src/controller/server.js';
import { parseTopology, topologyToYaml } from '../../src/topology/load.js';
import { lane, makeApp, testbed } from './helpers.js';

const packageVersion = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;

type Built = Awaited<ReturnType<typeof makeApp>>;
const open: Built[] = [];
async function app(opts: Parameters<typeof makeApp>[0] = {}) {
  const b = await makeApp(opts);
  open.push(b);
  return b;
}
afterEach(async () => {
  for (const b of open.splice(0)) await b.app.close();
});

const json = (payload: unknown) => ({
  headers: { 'content-type': 'application/json' },
  payload: JSON.stringify(payload),
});
function post(b: Built, url: string, body: unknown, headers: Record<string, string> = {}) {
  return b.app.inject({
    method: 'POST',
    url,
    payload: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
}
function errorOf(res: { json(): unknown }) {
  return (res.json() as { error: { code: string; message: string; details?: Record<string, unknown> } })
    .error;
}

describe('controller API: happy paths', () => {
  it('health and topology', async () => {
    const b = await app();
    const h = await b.app.inject({ url: '/v1/health' });
    expect(h.statusCode).toBe(200);
    expect(h.json()).toMatchObject({ status: 'ok', version: packageVersion, lanes: 0, hosts: 3 });
    const t = await b.app.inject({ url: '/v1/topology' });
    expect(t.json()).toEqual(testbed());
  });

  it('opens, lists, reads, shows per-host grants and closes a lane', async () => {
    const b = await app();
    const res = await post(b, '/v1/lanes', lane('h1', ['h2'], { name: 'fd-h1-h2' }));
    expect(res.statusCode).toBe(201);
    const { lane: l, changed } = res.json();
    expect(changed).toEqual([]);
    expect(l).toMatchObject({ state: 'live', name: 'fd-h1-h2', pendingHosts: [] });
    expect(l.grant.sender).toBe('h1');
    expect(l.grant.state).toBe('live');
    expect(l.grant.receivers[0].lambdaMaxNs).toBeGreaterThanOrEqual(l.grant.receivers[0].lambdaMinNs);

    expect((await b.app.inject({ url: '/v1/lanes' })).json().lanes).toEqual([l]);
    expect((await b.app.inject({ url: `/v1/lanes/${l.id}` })).json()).toEqual({ lane: l });
    const g2 = (await b.app.inject({ url: '/v1/grants?host=h2' })).json();
    expect(g2.grants.map((g: { laneId: string }) => g.laneId)).toEqual([l.id]);
    expect(g2.version).toBe(1);
    expect((await b.app.inject({ url: '/v1/grants?host=h3' })).json().grants).toEqual([]);
    const ports = (await b.app.inject({ url: '/v1/ports' })).json().ports as {
      from: string;
      to: string;
      lanes: number;
    }[];
    expect(
      ports
        .filter((p) => p.lanes > 0)
        .map((p) => `${p.from}>${p.to}`)
        .sort(),
    ).toEqual(['h1>s1', 's1>h2']);

    const del = await b.app.inject({ method: 'DELETE', url: `/v1/lanes/${l.id}` });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toMatchObject({ removed: l.id });
    const gone = await b.app.inject({ url: `/v1/lanes/${l.id}` });
    expect(gone.statusCode).toBe(404);
    expect(errorOf(gone).code).toBe('XL_ERR_UNKNOWN_LANE');
  });

  it('registers hosts (with or without a body) and lists them', async () => {
    const b = await app();
    const r = await post(b, '/v1/hosts/h2/register', { agentVersion: '0.1.0', engine: 'js' });
    expect(r.statusCode).toBe(200);
    expect(r.json().host).toMatchObject({ name: 'h2', registered: true, connected: false, engine: 'js' });
    const bare = await b.app.inject({ method: 'POST', url: '/v1/hosts/h3/register' });
    expect(bare.statusCode).toBe(200);
    const hosts = (await b.app.inject({ url: '/v1/hosts' })).json().hosts;
    expect(hosts.map((h: { name: string; registered: boolean }) => [h.name, h.registered])).toEqual([
      ['h1', false],
      ['h2', true],
      ['h3', true],
    ]);
  });

  it('pending until a registered receiver acks; ?wait=live answers the pending state at the timeout', async () => {
    const b = await app();
    await post(b, '/v1/hosts/h2/register', {});
    const first = (await post(b, '/v1/lanes', lane('h1', ['h2']))).json().lane;
    // h2 is a registered receiver of the first lane too: it waits for h2 to hold its grant
    expect(first).toMatchObject({ state: 'pending', pendingHosts: ['h2'] });
    b.lifecycle.ack('h2', b.lifecycle.host('h2').version);
    expect((await b.app.inject({ url: `/v1/lanes/${first.id}` })).json().lane.state).toBe('live');
    const res = await post(b, '/v1/lanes?wait=live&timeoutMs=30', lane('h3', ['h2']));
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.changed.map((c: { laneId: string }) => c.laneId)).toEqual([first.id]);
    expect(body.lane).toMatchObject({ state: 'pending', pendingHosts: ['h2'] });
    // the ack (normally over the watch) opens the gate
    b.lifecycle.ack('h2', b.lifecycle.host('h2').version);
    expect((await b.app.inject({ url: `/v1/lanes/${body.lane.id}` })).json().lane.state).toBe('live');
  });

  it('?wait=live returns as soon as the ack arrives', async () => {
    const b = await app();
    await post(b, '/v1/hosts/h2/register', {});
    await post(b, '/v1/lanes', lane('h1', ['h2']));
    const pending = post(b, '/v1/lanes?wait=live&timeoutMs=20000', lane('h3', ['h2']));
    // ack once the admission happened (the long-poll is then waiting)
    while (b.lifecycle.listLanes().length < 2) await new Promise((r) => setTimeout(r, 5));
    b.lifecycle.ack('h2', b.lifecycle.host('h2').version);
    expect((await pending).json().lane.state).toBe('live');
  });

  it('replaces the topology with YAML or JSON, and removes hosts and links (force revokes)', async () => {
    const b = await app();
    const l = (await post(b, '/v1/lanes', lane('h1', ['h3']))).json().lane;
    const spec = testbed();
    const faster = { ...spec, links: spec.links.map((k) => ({ ...k, rateBps: 10e9 })) };
    const y = await b.app.inject({
      method: 'PUT',
      url: '/v1/topology',
      headers: { 'content-type': 'application/yaml' },
      payload: topologyToYaml(faster),
    });
    expect(y.statusCode).toBe(200);
    expect(y.json().changed.map((c: { laneId: string }) => c.laneId)).toEqual([l.id]);
    expect((await b.app.inject({ url: '/v1/topology' })).json()).toEqual(faster);
    // JSON in the file's shape, units allowed
    const doc = parse(topologyToYaml(spec));
    const j = await b.app.inject({ method: 'PUT', url: '/v1/topology', ...json(doc) });
    expect(j.statusCode).toBe(200);
    expect((await b.app.inject({ url: '/v1/topology' })).json()).toEqual(spec);
    const text = await b.app.inject({ url: '/v1/topology?format=yaml' });
    expect(text.headers['content-type']).toMatch(/yaml/);
    expect(parseTopology(text.body)).toEqual(spec);

    const refused = await b.app.inject({ method: 'DELETE', url: '/v1/topology/hosts/h3' });
    expect(refused.statusCode).toBe(409);
    expect(errorOf(refused).code).toBe('XL_ERR_TOPOLOGY_CONFLICT');
    expect((await b.app.inject({ url: '/v1/lanes' })).json().lanes).toHaveLength(1);
    const forced = await b.app.inject({ method: 'DELETE', url: '/v1/topology/hosts/h3?force=true' });
    expect(forced.statusCode).toBe(200);
    expect(forced.json().revoked).toEqual([l.id]);
    expect((await b.app.inject({ url: '/v1/health' })).json()).toMatchObject({ lanes: 0, hosts: 2 });

    const link = await b.app.inject({ method: 'DELETE', url: '/v1/topology/links/s1/h2' });
    expect(link.statusCode).toBe(200);
    expect((await b.app.inject({ url: '/v1/topology' })).json().links.map((k: { a: string }) => k.a)).toEqual(
      ['h1'],
    );
    const noLink = await b.app.inject({ method: 'DELETE', url: '/v1/topology/links/h1/h2' });
    expect(errorOf(noLink).code).toBe('XL_ERR_NOT_FOUND');
  });

  it('a host removed and added again goes on from its watch version, also after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlane-api-'));
    try {
      const dbPath = join(dir, 'state.db');
      const b = await makeApp({ dbPath });
      const version = async (x: Built) => (await x.app.inject({ url: '/v1/grants?host=h3' })).json().version;
      await post(b, '/v1/hosts/h3/register', {});
      const l = (await post(b, '/v1/lanes', lane('h1', ['h3']))).json().lane;
      await b.app.inject({ method: 'DELETE', url: `/v1/lanes/${l.id}` });
      const before = await version(b);
      expect(before).toBe(2);
      const del = await b.app.inject({ method: 'DELETE', url: '/v1/topology/hosts/h3' });
      expect(del.statusCode).toBe(200);
      const back = await b.app.inject({
        method: 'PUT',
        url: '/v1/topology',
        ...json(parse(topologyToYaml(testbed()))),
      });
      expect(back.statusCode).toBe(200);
      expect(await version(b)).toBe(before);
      // a host that comes back is a new host in all but its version: its agent registers again
      const host = (await b.app.inject({ url: '/v1/hosts' }))
        .json()
        .hosts.find((h: { name: string }) => h.name === 'h3');
      expect(host).toMatchObject({ registered: false, version: before });
      await post(b, '/v1/lanes', lane('h1', ['h3']));
      expect(await version(b)).toBe(before + 1);
      await b.app.close();
      const again = await makeApp({ dbPath });
      open.push(again);
      expect(await version(again)).toBe(before + 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('controller API: errors are 4xx with stable codes', () => {
  const cases: [
    string,
    (b: Built) => Promise<{ statusCode: number; json(): unknown }>,
    number,
    string,
    RegExp?,
  ][] = [
    [
      'malformed JSON',
      (b) =>
        b.app.inject({
          method: 'POST',
          url: '/v1/lanes',
          headers: { 'content-type': 'application/json' },
          payload: '{"sender": ',
        }),
      400,
      'XL_ERR_BAD_JSON',
    ],
    [
      'schema: payload too large',
      (b) => post(b, '/v1/lanes', lane('h1', ['h2'], { maxPayloadBytes: 5000 })),
      400,
      'XL_ERR_VALIDATION',
      /maxPayloadBytes/,
    ],
    [
      'schema: missing field',
      (b) => post(b, '/v1/lanes', { sender: 'h1', receivers: ['h2'], maxPayloadBytes: 64 }),
      400,
      'XL_ERR_VALIDATION',
      /minPeriodNs/,
    ],
    [
      'schema: unknown field',
      (b) => post(b, '/v1/lanes', lane('h1', ['h2'], { maxPayload: 3 })),
      400,
      'XL_ERR_VALIDATION',
      /maxPayload/,
    ],
    [
      'schema: bad query',
      (b) => post(b, '/v1/lanes?wait=soon', lane('h1', ['h2'])),
      400,
      'XL_ERR_VALIDATION',
      /querystring/,
    ],
    ['unknown host', (b) => post(b, '/v1/lanes', lane('h1', ['h9'])), 404, 'XL_ERR_UNKNOWN_HOST', /h9/],
    ['unknown host on register', (b) => post(b, '/v1/hosts/h9/register', {}), 404, 'XL_ERR_UNKNOWN_HOST'],
    [
      'unknown host on grants',
      (b) => b.app.inject({ url: '/v1/grants?host=h9' }),
      404,
      'XL_ERR_UNKNOWN_HOST',
    ],
    ['grants without host', (b) => b.app.inject({ url: '/v1/grants' }), 400, 'XL_ERR_VALIDATION'],
    [
      'impossible lane',
      (b) => post(b, '/v1/lanes', lane('h1', ['h2'], { maxPayloadBytes: 1418, minPeriodNs: 1000 })),
      409,
      'XL_ERR_ADMISSION_REJECTED',
      /s1→h2|h1→s1/,
    ],
    [
      'unknown lane',
      (b) => b.app.inject({ method: 'DELETE', url: '/v1/lanes/L77' }),
      404,
      'XL_ERR_UNKNOWN_LANE',
    ],
    ['unknown route', (b) => b.app.inject({ url: '/v2/nothing' }), 404, 'XL_ERR_NOT_FOUND'],
    [
      'watch without upgrade',
      (b) => b.app.inject({ url: '/v1/watch?host=h1' }),
      400,
      'XL_ERR_VALIDATION',
      /WebSocket/,
    ],
    [
      'watch for an unknown host',
      (b) => b.app.inject({ url: '/v1/watch?host=h9' }),
      404,
      'XL_ERR_UNKNOWN_HOST',
    ],
    [
      'oversize body',
      (b) =>
        b.app.inject({
          method: 'POST',
          url: '/v1/lanes',
          headers: { 'content-type': 'application/json' },
          payload: `{"x":"${'a'.repeat(1_100_000)}"}`,
        }),
      413,
      'XL_ERR_TOO_LARGE',
    ],
    [
      'wrong content-type',
      (b) =>
        b.app.inject({
          method: 'POST',
          url: '/v1/lanes',
          headers: { 'content-type': 'text/plain' },
          payload: 'hello',
        }),
      415,
      'XL_ERR_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'YAML where JSON is expected',
      (b) =>
        b.app.inject({
          method: 'POST',
          url: '/v1/lanes',
          headers: { 'content-type': 'application/yaml' },
          payload: 'sender: h1',
        }),
      415,
      'XL_ERR_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'bad YAML topology',
      (b) =>
        b.app.inject({
          method: 'PUT',
          url: '/v1/topology',
          headers: { 'content-type': 'application/yaml' },
          payload: 'name: x\nhosts: [\n',
        }),
      400,
      'XL_ERR_BAD_YAML',
    ],
    [
      'inconsistent topology',
      (b) => {
        const doc = parse(topologyToYaml(testbed()));
        doc.links.push({ a: 'h1', b: 's9', rate: '1Gbit' });
        return b.app.inject({ method: 'PUT', url: '/v1/topology', ...json(doc) });
      },
      422,
      'XL_ERR_TOPOLOGY',
    ],
    [
      'topology not an object',
      (b) => b.app.inject({ method: 'PUT', url: '/v1/topology', ...json([1, 2]) }),
      400,
      'XL_ERR_VALIDATION',
    ],
    // Bodies are never coerced: each of these used to be taken as ["h2"], 1, 64, "123" and 0.
    ...(
      [
        ['receivers', 'h2', /body\/receivers must be array/],
        ['maxPayloadBytes', true, /body\/maxPayloadBytes must be integer/],
        ['maxPayloadBytes', '64', /body\/maxPayloadBytes must be integer/],
        ['name', 123, /body\/name must be string/],
        ['deadlineNs', null, /body\/deadlineNs must be number/],
      ] as [string, unknown, RegExp][]
    ).map(
      ([field, value, message]): [string, (b: Built) => ReturnType<typeof post>, number, string, RegExp] => [
        `schema: ${field} ${JSON.stringify(value)} is not coerced`,
        (b) => post(b, '/v1/lanes', lane('h1', ['h2'], { [field]: value })),
        400,
        'XL_ERR_VALIDATION',
        message,
      ],
    ),
    [
      'a JSON string body is a JSON body of the wrong type, not YAML',
      (b) => post(b, '/v1/lanes', 'x'),
      400,
      'XL_ERR_VALIDATION',
      /^body must be object$/,
    ],
    [
      'a __proto__ key is refused as such, not as bad JSON',
      (b) =>
        b.app.inject({
          method: 'POST',
          url: '/v1/lanes',
          headers: { 'content-type': 'application/json' },
          payload: `{"sender":"h1","__proto__":{"receivers":["h2"]}}`,
        }),
      400,
      'XL_ERR_VALIDATION',
      /body\/__proto__: a __proto__ key .* is not allowed/,
    ],
    [
      'a bad enum value is one error naming the allowed values',
      (b) => b.app.inject({ url: '/v1/topology?format=xml' }),
      400,
      'XL_ERR_VALIDATION',
      /^querystring\/format must be one of: "json", "yaml"$/,
    ],
    [
      'ack beyond the version sent',
      async (b) => {
        try {
          b.lifecycle.ack('h1', 5);
          return { statusCode: 200, json: () => ({}) };
        } catch (err) {
          const e = err as { statusCode: number; toJSON(): unknown };
          return { statusCode: e.statusCode, json: () => ({ error: e.toJSON() }) };
        }
      },
      400,
      'XL_ERR_VALIDATION',
    ],
  ];

  for (const [what, call, status, code, message] of cases) {
    it(`${what} → ${status} ${code}`, async () => {
      const b = await app();
      const res = await call(b);
      expect(res.statusCode).toBe(status);
      const e = errorOf(res);
      expect(e.code).toBe(code);
      if (message) expect(e.message).toMatch(message);
    });
  }

  it('YAML topology errors carry line and column', async () => {
    const b = await app();
    const res = await b.app.inject({
      method: 'PUT',
      url: '/v1/topology',
      headers: { 'content-type': 'application/yaml' },
      payload: topologyToYaml(testbed()).replace('rate: 1Gbit', 'rate: fast'),
    });
    expect(res.statusCode).toBe(400);
    const errors = errorOf(res).details?.errors as { line?: number; col?: number; path: string }[];
    expect(errors[0]?.line).toBeGreaterThan(1);
    expect(errors[0]?.col).toBeGreaterThan(0);
  });

  it('an admission rejection names the bottleneck port', async () => {
    const b = await app();
    const res = await post(b, '/v1/lanes', lane('h1', ['h2'], { maxPayloadBytes: 1418, minPeriodNs: 1000 }));
    expect(errorOf(res).details?.bottleneck).toMatchObject({
      from: expect.any(String),
      to: expect.any(String),
    });
  });

  it('a duplicate lane name → 409 XL_ERR_DUPLICATE, and nothing changes', async () => {
    const b = await app();
    await post(b, '/v1/lanes', lane('h1', ['h2'], { name: 'fd' }));
    const res = await post(b, '/v1/lanes', lane('h3', ['h2'], { name: 'fd' }));
    expect(res.statusCode).toBe(409);
    expect(errorOf(res).code).toBe('XL_ERR_DUPLICATE');
    expect((await b.app.inject({ url: '/v1/lanes' })).json().lanes).toHaveLength(1);
  });
});

describe('controller API: bearer token', () => {
  it('mutating calls need the token; reads do not', async () => {
    const b = await app({ token: 's3cret' });
    const none = await post(b, '/v1/lanes', lane('h1', ['h2']));
    expect(none.statusCode).toBe(401);
    expect(errorOf(none).code).toBe('XL_ERR_UNAUTHORIZED');
    const wrong = await post(b, '/v1/lanes', lane('h1', ['h2']), { authorization: 'Bearer s3cre' });
    expect(wrong.statusCode).toBe(401);
    for (const method of ['PUT', 'DELETE'] as const) {
      const r = await b.app.inject({ method, url: method === 'PUT' ? '/v1/topology' : '/v1/lanes/L1' });
      expect(r.statusCode).toBe(401);
    }
    const watch = await b.app.inject({ url: '/v1/watch?host=h1' });
    expect(watch.statusCode).toBe(401);
    const right = await post(b, '/v1/lanes', lane('h1', ['h2']), { authorization: 'Bearer s3cret' });
    expect(right.statusCode).toBe(201);
    expect((await b.app.inject({ url: '/v1/lanes' })).json().lanes).toHaveLength(1);
  });
});

/** Writes `text` on a fresh connection, half-closes it, and resolves with all that came back. */
function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      out += d;
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
    socket.end(text);
  });
}

describe('controller API: malformed HTTP', () => {
  const cases: [string, string, number, string, RegExp][] = [
    ['a bad request line', 'NOT HTTP\r\n\r\n', 400, 'XL_ERR_BAD_REQUEST', /malformed HTTP request/],
    [
      'Content-Length: abc',
      'POST /v1/lanes HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
      400,
      'XL_ERR_BAD_REQUEST',
      /Content-Length/,
    ],
    [
      'two Content-Length headers',
      'POST /v1/lanes HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
      400,
      'XL_ERR_BAD_REQUEST',
      /Content-Length/,
    ],
    [
      'a body shorter than its Content-Length',
      'POST /v1/lanes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{}',
      400,
      'XL_ERR_BAD_REQUEST',
      /malformed HTTP request/,
    ],
    [
      '20 KB of headers',
      `GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'XL_ERR_TOO_LARGE',
      /headers over \d+ bytes/,
    ],
  ];
  for (const [what, request, status, code, message] of cases) {
    it(`${what} → ${status} ${code} in the documented shape`, async () => {
      const c = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
      try {
        const answer = await rawHttp(Number(new URL(c.url).port), request);
        const [head = '', body = ''] = answer.split('\r\n\r\n');
        expect(head.split('\r\n')[0]).toBe(
          `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}`,
        );
        expect(head).toMatch(/content-type: application\/json/i);
        const e = (JSON.parse(body) as { error: { code: string; message: string } }).error;
        expect(e.code).toBe(code);
        expect(e.message).toMatch(message);
      } finally {
        await c.close();
      }
    });
  }
});
