// An empty or blank option value is a mistake, never a value: an unset ${VAR} in a systemd unit
// passes "" (`--iface ${XLANE_IFACE}`), and Number("") is 0, `if (o.x)` takes "" for "not given",
// /sys/class/net/ + "" exists. Every option and argument of every command refuses one with
// XL_ERR_VALIDATION naming itself, before any action runs. XLANE_* variables read by xlane itself
// are different: empty means unset (systemd's `VAR=`), only blanks is refused.
import type { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkInterface, sysInterfaceExists } from '../../src/agent/daemon.js';
import { agentSocket } from '../../src/cli/commands/agent.js';
import { clientFrom } from '../../src/cli/commands/lanes.js';
import { cpuNumber, num, wholeNumber } from '../../src/cli/option-values.js';
import { buildProgram } from '../../src/cli/program.js';
import { DEFAULT_SOCKET } from '../../src/client/connect.js';
import { ControllerClient, DEFAULT_CONTROLLER_URL, envSetting } from '../../src/client/controller-client.js';
import { isXlaneError } from '../../src/errors.js';
import { parseCli } from '../deploy/units.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isXlaneError(e) ? e.code : `not an XlaneError: ${String(e)}`;
  }
  return undefined;
}

interface Leaf {
  path: string[];
  cmd: Command;
}

function leaves(cmd: Command, path: string[] = []): Leaf[] {
  if (cmd.commands.length === 0) return [{ path, cmd }];
  return cmd.commands.flatMap((c) => leaves(c, [...path, c.name()]));
}

/** Values that pass the parsers of the required options, so that only the option under test can
 * be what is refused. */
const FILLER: Record<string, string> = {
  '--host': 'h1',
  '--from': 'h1',
  '--to': 'h2',
  '--size': '64',
  '--period': '1ms',
  '--leaves': '1',
  '--hosts-per-leaf': '1',
  '--spines': '1',
  '--topology': 'topology.yaml',
};

function requiredArgs(leaf: Leaf, except?: string): string[] {
  const out: string[] = [];
  for (const o of leaf.cmd.options)
    if (o.mandatory && o.long && o.long !== except) out.push(o.long, FILLER[o.long] ?? 'x');
  return out;
}

const tree = leaves(buildProgram());
const valueOptions = tree.flatMap((leaf) =>
  leaf.cmd.options
    .filter((o) => (o.required || o.optional) && o.long)
    .map((o) => [`${leaf.path.join(' ')} ${o.long}`, leaf, o.long!] as const),
);
const positionals = tree.flatMap((leaf) =>
  leaf.cmd.registeredArguments.map((a, i) => [`${leaf.path.join(' ')} <${a.name()}>`, leaf, i] as const),
);

describe('every command refuses an empty or blank value', () => {
  it('finds the options (the sweep below is not empty)', () => {
    expect(valueOptions.length).toBeGreaterThan(100);
    expect(valueOptions.map(([n]) => n)).toEqual(
      expect.arrayContaining(['agent --iface', 'agent --core', 'tune core --core', 'controller --token']),
    );
    expect(positionals.length).toBeGreaterThan(2);
  });

  // parseCli (test/deploy/units.ts) runs the real command tree with every action replaced by a
  // recorder: an option that slips through is recorded, nothing runs.
  it.each(valueOptions)('%s', async (_, leaf, long) => {
    for (const value of ['', '  ']) {
      const args = [...leaf.path, long, value, ...requiredArgs(leaf, long)];
      for (let i = 0; i < leaf.cmd.registeredArguments.length; i++) args.push('x');
      await expect(parseCli(args), `xlane ${args.join(' ')}`).rejects.toMatchObject({
        code: 'XL_ERR_VALIDATION',
        message: expect.stringContaining(`option ${long} is ${value === '' ? 'empty' : 'blank'}`),
      });
    }
  });

  it.each(positionals)('%s', async (_, leaf, index) => {
    const args = [...leaf.path, ...requiredArgs(leaf)];
    for (let i = 0; i < leaf.cmd.registeredArguments.length; i++) args.push(i === index ? '' : 'x');
    await expect(parseCli(args)).rejects.toMatchObject({
      code: 'XL_ERR_VALIDATION',
      message: expect.stringMatching(/^argument <[\w-]+> is empty/),
    });
  });

  it("--iface '' and --core '' of the agent, --core '' of tune: refused, not QoS on '' or CPU 0", async () => {
    await expect(parseCli(['agent', '--host', 'h1', '--iface', ''])).rejects.toMatchObject({
      code: 'XL_ERR_VALIDATION',
      details: { option: '--iface' },
    });
    for (const core of ['', ' ', '1.5', '-1', '1e0', '0x1', ' 2'])
      await expect(parseCli(['agent', '--host', 'h1', '--core', core]), core).rejects.toMatchObject({
        code: 'XL_ERR_VALIDATION',
        message: expect.stringContaining('--core'),
      });
    expect((await parseCli(['agent', '--host', 'h1', '--core', '3'])).opts.core).toBe(3);
    for (const sub of ['check', 'apply', 'core'])
      await expect(parseCli(['tune', sub, '--core', ''])).rejects.toMatchObject({
        code: 'XL_ERR_VALIDATION',
        message: expect.stringContaining('--core'),
      });
    await expect(parseCli(['tune', 'core', '--core', '1e0'])).rejects.toMatchObject({
      message: '--core must be a CPU number (got "1e0")',
    });
  });

  it('a --log-level pino does not know is refused (pino would throw a code-less Error)', async () => {
    for (const cmd of [['agent', '--host', 'h1'], ['controller']])
      await expect(parseCli([...cmd, '--log-level', 'warning'])).rejects.toMatchObject({
        code: 'XL_ERR_VALIDATION',
        message: expect.stringContaining('--log-level'),
      });
    expect((await parseCli(['controller', '--log-level', 'debug'])).opts.logLevel).toBe('debug');
  });
});

describe('the number parsers', () => {
  it('take digits only for CPUs and whole numbers, and a number for num', () => {
    for (const bad of ['', ' ', '1.5', '-1', '1e0', '0x1', ' 2', 'one']) {
      expect(
        codeOf(() => cpuNumber('core', bad)),
        bad,
      ).toBe('XL_ERR_VALIDATION');
      expect(
        codeOf(() => wholeNumber('hosts', bad)),
        bad,
      ).toBe('XL_ERR_VALIDATION');
    }
    expect(cpuNumber('core', '0')).toBe(0);
    expect(wholeNumber('hosts', '1024')).toBe(1024);
    for (const bad of ['', '  ', 'x', 'Infinity'])
      expect(
        codeOf(() => num('seconds', bad)),
        bad,
      ).toBe('XL_ERR_VALIDATION');
    expect(num('seconds', '2.5')).toBe(2.5);
  });
});

describe('the agent interface check, for callers that do not come through the CLI', () => {
  it("refuses '' and blanks instead of taking /sys/class/net/ for an interface", () => {
    expect(sysInterfaceExists('')).toBe(false);
    expect(sysInterfaceExists(' ')).toBe(false);
    expect(sysInterfaceExists('lo')).toBe(true);
    for (const iface of ['', '  '])
      expect(() => checkInterface(iface, () => true)).toThrow(
        expect.objectContaining({ code: 'XL_ERR_VALIDATION', message: expect.stringContaining('--iface') }),
      );
    expect(() => checkInterface('none')).not.toThrow();
    expect(() => checkInterface(undefined)).not.toThrow();
  });
});

describe('XLANE_* variables: empty is unset, blanks are refused', () => {
  it('envSetting', () => {
    expect(envSetting('XLANE_X', undefined)).toBeUndefined();
    expect(envSetting('XLANE_X', '')).toBeUndefined();
    expect(envSetting('XLANE_X', 'v')).toBe('v');
    expect(() => envSetting('XLANE_X', ' \t')).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION', message: expect.stringContaining('XLANE_X') }),
    );
  });

  it('XLANE_CONTROLLER, XLANE_TOKEN (the client commands) and XLANE_SOCKET (the agent)', () => {
    vi.stubEnv('XLANE_CONTROLLER', '');
    vi.stubEnv('XLANE_TOKEN', '');
    vi.stubEnv('XLANE_TOKEN_FILE', '');
    vi.stubEnv('XLANE_SOCKET', '');
    expect(new ControllerClient().url).toBe(DEFAULT_CONTROLLER_URL);
    const client = clientFrom({});
    expect(client.url).toBe(DEFAULT_CONTROLLER_URL);
    expect(client.authHeaders()).toEqual({});
    expect(agentSocket({})).toBe(DEFAULT_SOCKET);

    vi.stubEnv('XLANE_TOKEN', '   ');
    expect(() => clientFrom({})).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION', message: expect.stringContaining('XLANE_TOKEN') }),
    );
    vi.stubEnv('XLANE_SOCKET', ' ');
    expect(() => agentSocket({})).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_VALIDATION',
        message: expect.stringContaining('XLANE_SOCKET'),
      }),
    );
    // An option is not looked at in the environment at all.
    expect(agentSocket({ socket: '/tmp/a.sock' })).toBe('/tmp/a.sock');
  });
});
