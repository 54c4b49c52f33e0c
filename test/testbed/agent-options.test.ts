// `testbed up --with-agents --engine/--fd`: the engine chosen (and said) from what was asked and
// whether the native addon loads, the validation of both options before anything is built, and the
// command line each agent gets.
import { describe, expect, it, vi } from 'vitest';
import type { AddonLoad, NativeAddon } from '../../src/engine/native/addon.js';
import { isXlaneError } from '../../src/errors.js';
import {
  type AgentArgvContext,
  agentArgv,
  agentOptionsFromCli,
  chooseEngine,
  parseFdGroups,
} from '../../src/testbed/agent-options.js';

const LOADS: AddonLoad = { ok: true, addon: {} as NativeAddon, path: '/x/build/Release/xlane_engine.node' };
const MISSING: AddonLoad = { ok: false, reason: '/x/xlane_engine.node is not built' };
const HOSTS = ['h1', 'h2', 'h3'];

function validationError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isXlaneError(err) && err.code === 'XL_ERR_VALIDATION') return err.message;
    throw err;
  }
  throw new Error('no error');
}

describe('chooseEngine', () => {
  it('defaults to native when the addon loads, and says so', () => {
    expect(chooseEngine(undefined, () => LOADS)).toEqual({
      engine: 'native',
      note: 'native engine (default: the addon /x/build/Release/xlane_engine.node loads)',
    });
  });

  it('defaults to js when it does not, giving the reason', () => {
    const c = chooseEngine(undefined, () => MISSING);
    expect(c.engine).toBe('js');
    expect(c.note).toBe(
      'js engine (default: the native addon is unavailable: /x/xlane_engine.node is not built)',
    );
  });

  it('takes what is asked; js without loading the addon at all', () => {
    const load = vi.fn(() => LOADS);
    expect(chooseEngine('js', load).engine).toBe('js');
    expect(load).not.toHaveBeenCalled();
    expect(chooseEngine('native', () => LOADS)).toEqual({
      engine: 'native',
      note: 'native engine (--engine native)',
    });
  });

  it('native asked for without an addon: js, and the note says why', () => {
    const c = chooseEngine('native', () => MISSING);
    expect(c.engine).toBe('js');
    expect(c.note).toMatch(/--engine native, but the native addon is unavailable \(.*not built\)/);
  });

  it('anything else is XL_ERR_VALIDATION', () => {
    for (const bad of ['', 'Native', 'c', 'js,native'])
      expect(validationError(() => chooseEngine(bad, () => LOADS))).toMatch(/--engine must be js or native/);
  });
});

describe('parseFdGroups', () => {
  it('takes GROUP and GROUP=members', () => {
    expect(parseFdGroups(['g1', 'g2=h1,h3'], HOSTS)).toEqual([
      { name: 'g1' },
      { name: 'g2', members: ['h1', 'h3'] },
    ]);
  });

  it('refuses a bad name, a group given twice and a member that is not a testbed host', () => {
    expect(validationError(() => parseFdGroups(['g.1'], HOSTS))).toMatch(/no dots/);
    expect(validationError(() => parseFdGroups(['g1=h1,h2', 'g1'], HOSTS))).toBe('--fd g1 is given twice');
    expect(validationError(() => parseFdGroups(['g1=h1,h9'], HOSTS))).toMatch(
      /^--fd g1: h9 not a host of the topology/,
    );
    expect(validationError(() => parseFdGroups(['g1='], HOSTS))).toMatch(/no members/);
  });
});

describe('agentOptionsFromCli', () => {
  it('--with-agents: the engine, the groups and the line for stdout', () => {
    expect(agentOptionsFromCli({ withAgents: true, fd: ['g1'] }, HOSTS, () => LOADS)).toEqual({
      options: { engine: 'native', fd: [{ name: 'g1' }] },
      engineNote: 'agents: native engine (default: the addon /x/build/Release/xlane_engine.node loads)',
    });
  });

  it('without --with-agents: nothing, and --engine or --fd alone is an error', () => {
    const load = vi.fn(() => LOADS);
    expect(agentOptionsFromCli({}, HOSTS, load)).toBeUndefined();
    expect(load).not.toHaveBeenCalled();
    expect(validationError(() => agentOptionsFromCli({ engine: 'js' }, HOSTS, load))).toBe(
      '--engine: only with --with-agents',
    );
    expect(validationError(() => agentOptionsFromCli({ engine: 'js', fd: ['g1'] }, HOSTS, load))).toBe(
      '--engine and --fd: only with --with-agents',
    );
  });

  it('validates with --with-agents too', () => {
    expect(
      validationError(() => agentOptionsFromCli({ withAgents: true, engine: 'rust' }, HOSTS, () => LOADS)),
    ).toMatch(/--engine must be js or native, not "rust"/);
    expect(
      validationError(() => agentOptionsFromCli({ withAgents: true, fd: ['g1=h1,hx'] }, HOSTS, () => LOADS)),
    ).toMatch(/hx not a host/);
  });
});

describe('agentArgv', () => {
  const ctx: AgentArgvContext = {
    controllerUrl: 'http://10.77.0.254:7300',
    token: 'tok',
    runDir: '/runs/tb',
    peers: 'h1=10.77.0.1,h2=10.77.0.2,h3=10.77.0.3',
    hostQos: true,
    engine: 'native',
    fd: [],
  };
  const h1 = { host: 'h1', ifname: 'eth0' };

  it('passes the engine to every agent, native with interrupt-style receive, spin capped at 30 µs', () => {
    expect(agentArgv(h1, ctx)).toEqual([
      'agent',
      '--controller',
      'http://10.77.0.254:7300',
      '--token',
      'tok',
      '--host',
      'h1',
      '--socket',
      '/runs/tb/h1.sock',
      '--peers',
      'h1=10.77.0.1,h2=10.77.0.2,h3=10.77.0.3',
      '--iface',
      'eth0',
      '--engine',
      'native',
      '--receive',
      'blocking',
      '--max-spin-us',
      '30',
    ]);
    expect(agentArgv(h1, { ...ctx, engine: 'js' }).slice(-4)).toEqual([
      '--engine',
      'js',
      '--max-spin-us',
      '30',
    ]);
  });

  it('fifo mode: no kernel QoS on the hosts', () => {
    const argv = agentArgv(h1, { ...ctx, hostQos: false });
    expect(argv[argv.indexOf('--iface') + 1]).toBe('none');
  });

  it('each host gets --fd for the groups it is a member of, as given', () => {
    const fd = [{ name: 'all' }, { name: 'pair', members: ['h1', 'h2'] }];
    const fdArgs = (host: string) => {
      const argv = agentArgv({ host, ifname: 'eth0' }, { ...ctx, fd });
      return argv.slice(argv.indexOf('--max-spin-us') + 2);
    };
    expect(fdArgs('h1')).toEqual(['--fd', 'all', '--fd', 'pair=h1,h2']);
    expect(fdArgs('h2')).toEqual(['--fd', 'all', '--fd', 'pair=h1,h2']);
    expect(fdArgs('h3')).toEqual(['--fd', 'all']);
  });
});
