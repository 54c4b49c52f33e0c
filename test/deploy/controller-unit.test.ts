// xlane-controller.service's ExecStart, run as the unit says: its env file's values (listen moved to
// 127.0.0.1 and a free port, the topology to the repository's example), %S a temporary directory,
// the unit's environment only, and (as root) the unit's empty capability set. It answers
// /v1/health, takes its token from XLANE_TOKEN, keeps an admitted lane across a restart from the
// same state directory, and exits 0 on SIGTERM (so Restart=on-failure leaves a stop alone). With
// docs/deploy.md's credential drop-in it takes its token from %d/token instead of XLANE_TOKEN.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Service } from './service-process.js';
import {
  dropInsIn,
  execArgv,
  fromSources,
  makeUnitDirectories,
  privilegesOf,
  REPO,
  readUnit,
  type Specifiers,
  type Unit,
  unitEnvironment,
  values,
  withDropIn,
} from './units.js';

const isRoot = process.getuid?.() === 0;
const unit = readUnit('xlane-controller.service');
const dir = mkdtempSync(join(tmpdir(), 'xlane-controller-unit-'));
const spec: Specifiers = { t: join(dir, 'run'), S: join(dir, 'state') };
const env = unitEnvironment(unit, {
  XLANE_LISTEN: '127.0.0.1:0',
  XLANE_TOPOLOGY: join(REPO, 'examples/testbed-3.yaml'),
});
const started: Service[] = [];

function start(u: Unit = unit, e: Record<string, string> = env, sp: Specifiers = spec): Service {
  makeUnitDirectories(u, sp);
  const [exec] = values(u, 'Service', 'ExecStart');
  const argv = fromSources(execArgv(exec!, e, sp, 'ExecStart'));
  // As root the unit's capability set is reproduced; any other user has none to begin with.
  const s = new Service(
    [...(isRoot ? privilegesOf(u) : []), ...argv],
    { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...e },
    REPO,
  );
  started.push(s);
  return s;
}

afterEach(() => {
  for (const s of started.splice(0)) s.kill();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('xlane-controller.service started as its ExecStart says', () => {
  it('serves, needs its token to change anything, keeps its state across a restart, stops with 0', async () => {
    expect(env.XLANE_TOKEN, 'controller.env.example sets a token').toMatch(/\S/);
    const first = start();
    const url = String((await first.waitFor('controller listening')).url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    if (isRoot) expect(first.status('CapEff')).toBe('0000000000000000');

    const health = await fetch(`${url}/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });

    const lane = { sender: 'h1', receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 1_000_000 };
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/v1/lanes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ ...lane, name: 'deploy-test' }),
      });
    expect((await post({})).status).toBe(401);
    const admitted = await post({ authorization: `Bearer ${env.XLANE_TOKEN}` });
    expect(admitted.status).toBe(201);
    const { lane: granted } = (await admitted.json()) as { lane: { id: string } };

    // The state file is where the unit's StateDirectory= puts it.
    expect(existsSync(join(spec.S, 'xlane/xlane.db'))).toBe(true);
    expect(await first.stop()).toBe(0);

    const second = start();
    const again = String((await second.waitFor('controller listening')).url);
    const { lanes } = (await (await fetch(`${again}/v1/lanes`)).json()) as {
      lanes: { id: string; name?: string }[];
    };
    expect(lanes.map((l) => [l.id, l.name])).toEqual([[granted.id, 'deploy-test']]);
    expect(await second.stop()).toBe(0);
  });
});

describe('xlane-controller.service with the credential drop-in of docs/deploy.md', () => {
  it('takes its token from %d/token, the file systemd copies for LoadCredential=', async () => {
    const doc = readFileSync(join(REPO, 'docs/deploy.md'), 'utf8');
    const dropIn = dropInsIn(doc).find((d) => d.unit === unit.name);
    expect(dropIn, 'docs/deploy.md shows the drop-in').toBeDefined();
    const withToken = withDropIn(unit, dropIn!.text, dropIn!.path);
    // What systemd does for LoadCredential=token:/etc/xlane/token: a copy in the unit's own
    // credentials directory, %d. The file ends in a line break, as `openssl rand -hex 32 >` leaves.
    const credentials = join(dir, 'credentials', unit.name);
    mkdirSync(credentials, { recursive: true });
    writeFileSync(join(credentials, 'token'), 'credential-token\n', { mode: 0o400 });
    // As the doc says, the env file has no XLANE_TOKEN line any more.
    const { XLANE_TOKEN: _, ...noToken } = env;
    const s = start(withToken, noToken, { ...spec, S: join(dir, 'state-credential'), d: credentials });
    const url = String((await s.waitFor('controller listening')).url);
    const post = (headers: Record<string, string>) =>
      fetch(`${url}/v1/lanes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({
          sender: 'h1',
          receivers: ['h2'],
          maxPayloadBytes: 64,
          minPeriodNs: 1_000_000,
        }),
      });
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: `Bearer ${env.XLANE_TOKEN}` })).status).toBe(401);
    expect((await post({ authorization: 'Bearer credential-token' })).status).toBe(201);
    expect(await s.stop()).toBe(0);
  });
});
