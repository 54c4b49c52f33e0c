// --token-file FILE / XLANE_TOKEN_FILE: the controller token from a file (systemd's LoadCredential=
// puts it in %d/token), wherever --token / XLANE_TOKEN is taken: the controller, the agent and the
// client commands. Its trailing line break is dropped; an empty, unreadable or odd file is refused
// naming it; --token with --token-file, or both variables, is refused.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { tokenOption } from '../../src/cli/option-values.js';
import { buildProgram } from '../../src/cli/program.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { REPO, TESTBED } from '../controller/helpers.js';
import { Service } from '../deploy/service-process.js';
import { freeUdpPort } from '../engine/helpers.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'xlane-token-file-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

let n = 0;
function file(content: string): string {
  const p = join(dir, `token-${n++}`);
  writeFileSync(p, content);
  return p;
}

/** Neither variable from the caller's environment. */
function cleanEnv() {
  vi.stubEnv('XLANE_TOKEN', '');
  vi.stubEnv('XLANE_TOKEN_FILE', '');
}

function refusedWith(fn: () => unknown, code: string, text: string) {
  expect(fn).toThrow(expect.objectContaining({ code, message: expect.stringContaining(text) }));
}

describe('tokenOption', () => {
  it('reads the file, without its trailing line break', () => {
    cleanEnv();
    expect(tokenOption({ tokenFile: file('s3cret\n') })).toBe('s3cret');
    expect(tokenOption({ tokenFile: file('s3cret\r\n') })).toBe('s3cret');
    expect(tokenOption({ tokenFile: file('s3cret') })).toBe('s3cret');
    expect(tokenOption({ tokenFile: file('s3cret\n\n') })).toBe('s3cret');
    expect(tokenOption({ token: 'given' })).toBe('given');
    expect(tokenOption({})).toBeUndefined();
  });

  it('refuses an empty, missing, unreadable or odd file, naming it', () => {
    cleanEnv();
    for (const content of ['', '\n', '\r\n']) {
      const p = file(content);
      refusedWith(() => tokenOption({ tokenFile: p }), 'XL_ERR_VALIDATION', `--token-file ${p} is empty`);
    }
    const missing = join(dir, 'missing');
    refusedWith(() => tokenOption({ tokenFile: missing }), 'XL_ERR_FILE', `--token-file ${missing}`);
    const sub = join(dir, 'a-directory');
    mkdirSync(sub, { recursive: true });
    refusedWith(() => tokenOption({ tokenFile: sub }), 'XL_ERR_FILE', `--token-file ${sub}`);
    const twoLines = file('one\ntwo\n');
    refusedWith(() => tokenOption({ tokenFile: twoLines }), 'XL_ERR_VALIDATION', twoLines);
    // The controller trims the token a request presents: one with blanks around it never matches.
    const padded = file(' s3cret \n');
    refusedWith(() => tokenOption({ tokenFile: padded }), 'XL_ERR_VALIDATION', padded);
    refusedWith(() => tokenOption({ token: 's3cret ' }), 'XL_ERR_VALIDATION', '--token');
    const big = file('x'.repeat(5000));
    refusedWith(() => tokenOption({ tokenFile: big }), 'XL_ERR_VALIDATION', big);
    if (process.getuid?.() !== 0) {
      const closed = file('s3cret\n');
      chmodSync(closed, 0);
      refusedWith(() => tokenOption({ tokenFile: closed }), 'XL_ERR_FILE', closed);
    }
  });

  it('--token with --token-file is refused; an option wins over the environment', () => {
    cleanEnv();
    refusedWith(
      () => tokenOption({ token: 'a', tokenFile: file('b\n') }),
      'XL_ERR_VALIDATION',
      '--token and --token-file',
    );
    vi.stubEnv('XLANE_TOKEN', 'from-env');
    expect(tokenOption({ tokenFile: file('from-file\n') })).toBe('from-file');
    expect(tokenOption({})).toBe('from-env');
    vi.stubEnv('XLANE_TOKEN', '');
    vi.stubEnv('XLANE_TOKEN_FILE', file('env-file\n'));
    expect(tokenOption({})).toBe('env-file');
    expect(tokenOption({ token: 'given' })).toBe('given');
    // The library's default, too.
    expect(new ControllerClient().authHeaders()).toEqual({ authorization: 'Bearer env-file' });
  });

  it('XLANE_TOKEN with XLANE_TOKEN_FILE is refused; an empty one is unset; a bad file is named', () => {
    cleanEnv();
    vi.stubEnv('XLANE_TOKEN', 'a');
    vi.stubEnv('XLANE_TOKEN_FILE', file('b\n'));
    refusedWith(() => tokenOption({}), 'XL_ERR_VALIDATION', 'XLANE_TOKEN and XLANE_TOKEN_FILE');
    vi.stubEnv('XLANE_TOKEN_FILE', '');
    expect(tokenOption({})).toBe('a');
    vi.stubEnv('XLANE_TOKEN', '');
    const empty = file('');
    vi.stubEnv('XLANE_TOKEN_FILE', empty);
    refusedWith(() => tokenOption({}), 'XL_ERR_VALIDATION', `XLANE_TOKEN_FILE ${empty} is empty`);
  });
});

function leaves(cmd: Command, path: string[] = []): { path: string[]; cmd: Command }[] {
  if (cmd.commands.length === 0) return [{ path, cmd }];
  return cmd.commands.flatMap((c) => leaves(c, [...path, c.name()]));
}

describe('the commands', () => {
  const withToken = leaves(buildProgram()).filter((l) => l.cmd.options.some((o) => o.long === '--token'));

  it('every command that takes --token takes --token-file', () => {
    expect(withToken.map((l) => l.path.join(' ')).sort()).toEqual([
      'agent',
      'controller',
      'lanes close',
      'lanes list',
      'lanes open',
      'status',
    ]);
    for (const l of withToken) expect(l.cmd.options.map((o) => o.long)).toContain('--token-file');
  });

  // The real actions: each refuses before it starts or reaches anything. Should one not, the extra
  // arguments make it fail otherwise (no such interface, a bad listen address, nothing listening).
  const required: Record<string, string[]> = {
    agent: ['--host', 'h1', '--iface', 'no-such-if0', '--controller', 'http://127.0.0.1:9'],
    controller: ['--listen', 'not-an-address'],
    'lanes close': ['--controller', 'http://127.0.0.1:9', 'L1'],
    'lanes list': ['--controller', 'http://127.0.0.1:9'],
    'lanes open': [
      '--controller',
      'http://127.0.0.1:9',
      '--from',
      'h1',
      '--to',
      'h2',
      '--size',
      '64',
      '--period',
      '1ms',
    ],
    status: ['--controller', 'http://127.0.0.1:9'],
  };

  it.each(Object.keys(required))(
    '%s: --token with --token-file, and a missing file, refused first',
    async (name) => {
      cleanEnv();
      const run = (extra: string[]) =>
        buildProgram().parseAsync(['node', 'xlane', ...name.split(' '), ...extra, ...required[name]!]);
      await expect(run(['--token', 'a', '--token-file', file('b\n')])).rejects.toMatchObject({
        code: 'XL_ERR_VALIDATION',
        message: expect.stringContaining('--token and --token-file'),
      });
      const missing = join(dir, 'nope');
      await expect(run(['--token-file', missing])).rejects.toMatchObject({
        code: 'XL_ERR_FILE',
        message: expect.stringContaining(missing),
      });
    },
  );
});

describe('end to end: a controller and an agent started with --token-file', () => {
  const started: Service[] = [];
  afterEach(() => {
    for (const s of started.splice(0)) s.kill();
  });

  const cli = (args: string[], env: Record<string, string> = {}) => {
    const s = new Service(
      [process.execPath, '--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args],
      { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
      REPO,
    );
    started.push(s);
    return s;
  };

  it('the controller takes the file’s token; clients and the agent present it from theirs', async () => {
    cleanEnv();
    const tokenFile = file('file-token-123\n');
    // An express port of its own: the agent's engine binds it, and other test files run engines.
    const topology = join(dir, 'topology.yaml');
    writeFileSync(
      topology,
      readFileSync(TESTBED, 'utf8').replace(/^expressPort: \d+$/m, `expressPort: ${await freeUdpPort()}`),
    );
    const controller = cli([
      'controller',
      '--topology',
      topology,
      '--db',
      join(dir, 'xlane.db'),
      '--listen',
      '127.0.0.1:0',
      '--token-file',
      tokenFile,
    ]);
    const url = String((await controller.waitFor('controller listening')).url);

    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
      out.push(a.map(String).join(' '));
    });
    const open = (extra: string[]) =>
      buildProgram().parseAsync([
        'node',
        'xlane',
        'lanes',
        'open',
        '--controller',
        url,
        '--from',
        'h1',
        '--to',
        'h2',
        '--size',
        '64',
        '--period',
        '1ms',
        '--json',
        ...extra,
      ]);
    await expect(open([])).rejects.toMatchObject({ code: 'XL_ERR_UNAUTHORIZED' });
    await open(['--token-file', tokenFile]);
    // What the file holds without its line break is the controller's token.
    await open(['--token', 'file-token-123']);
    vi.stubEnv('XLANE_TOKEN_FILE', tokenFile);
    await open([]);
    expect(out.filter((l) => l.includes('"lane"'))).toHaveLength(3);

    const agent = cli([
      'agent',
      '--host',
      'h1',
      '--controller',
      url,
      '--token-file',
      tokenFile,
      '--engine',
      'js',
      '--iface',
      'none',
      '--peers',
      'h1=127.0.0.1,h2=127.0.0.1,h3=127.0.0.1',
      '--socket',
      join(dir, 'agent', 'agent.sock'),
    ]);
    await agent.waitFor('watch: in sync with the controller');
    expect(agent.has(/token/), agent.text()).toBe(false);
    expect(await agent.stop()).toBe(0);
    expect(await controller.stop()).toBe(0);
  }, 60_000);
});
