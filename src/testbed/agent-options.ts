// `testbed up --with-agents --engine … --fd …`: which lane engine the agents run and which
// failure-detector groups each joins, checked before anything is built (a typo must not cost a
// testbed build and three agent start-ups), and each agent's command line. Pure, so unit-tested.
import { join } from 'node:path';
import { type EngineKind, parseEngineKind } from '../agent/engine-factory.js';
import type { AddonLoad } from '../engine/native/addon.js';
import { SHARED_CPU_MAX_SPIN_US } from '../engine/spin-setting.js';
import { XlaneError } from '../errors.js';
import { type FdGroupSpec, parseFdGroup } from '../fd/group-config.js';

export interface AgentOptions {
  engine: EngineKind;
  /** `--fd` groups; one without members has every host. */
  fd: FdGroupSpec[];
}

export interface AgentCliValues {
  withAgents?: boolean;
  engine?: string;
  fd?: string[];
}

/** The options of `testbed up` as given → what the agents get, and a line for stdout saying which
 * engine they run and why. Undefined without --with-agents. Throws XL_ERR_VALIDATION. `loadAddon`
 * (loadNativeAddon) is called only when the default engine depends on it. */
export function agentOptionsFromCli(
  o: AgentCliValues,
  hosts: readonly string[],
  loadAddon: () => AddonLoad,
): { options: AgentOptions; engineNote: string } | undefined {
  if (!o.withAgents) {
    const stray = [o.engine !== undefined && '--engine', o.fd?.length && '--fd'].filter(Boolean);
    if (stray.length > 0)
      throw new XlaneError('XL_ERR_VALIDATION', `${stray.join(' and ')}: only with --with-agents`);
    return undefined;
  }
  const { engine, note } = chooseEngine(o.engine, loadAddon);
  return { options: { engine, fd: parseFdGroups(o.fd ?? [], hosts) }, engineNote: `agents: ${note}` };
}

/** The engine asked for; by default native when the addon loads here, else js. The agents load the
 * very same file (same package, same environment), so what loads here is what runs there — and
 * native asked for without an addon is js, said so, as the agent itself would fall back. */
export function chooseEngine(
  asked: string | undefined,
  loadAddon: () => AddonLoad,
): { engine: EngineKind; note: string } {
  const kind = asked === undefined ? undefined : parseEngineKind(asked);
  if (kind === 'js') return { engine: 'js', note: 'js engine (--engine js)' };
  const addon = loadAddon();
  if (addon.ok)
    return {
      engine: 'native',
      note: kind
        ? 'native engine (--engine native)'
        : `native engine (default: the addon ${addon.path} loads)`,
    };
  return {
    engine: 'js',
    note: kind
      ? `js engine: --engine native, but the native addon is unavailable (${addon.reason})`
      : `js engine (default: the native addon is unavailable: ${addon.reason})`,
  };
}

/** `--fd` values: the agent's syntax, each group named once, members among the testbed's hosts. */
export function parseFdGroups(values: readonly string[], hosts: readonly string[]): FdGroupSpec[] {
  const groups = values.map(parseFdGroup);
  for (const [i, g] of groups.entries()) {
    if (groups.findIndex((x) => x.name === g.name) !== i)
      throw new XlaneError('XL_ERR_VALIDATION', `--fd ${g.name} is given twice`, { group: g.name });
    const unknown = (g.members ?? []).filter((m) => !hosts.includes(m));
    if (unknown.length > 0)
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `--fd ${g.name}: ${unknown.join(', ')} not a host of the topology (${hosts.join(', ')})`,
        { group: g.name },
      );
  }
  return groups;
}

export interface AgentArgvContext extends AgentOptions {
  controllerUrl: string;
  token: string;
  runDir: string;
  peers: string;
  /** Express mode: the agent owns its host's egress qdisc. */
  hostQos: boolean;
}

/** `xlane agent …` for one testbed host. */
export function agentArgv(a: { host: string; ifname: string }, c: AgentArgvContext): string[] {
  // The agent refuses a group it is not a member of: each host gets only its own groups.
  const fd = c.fd
    .filter((g) => !g.members || g.members.includes(a.host))
    .flatMap((g) => ['--fd', g.members ? `${g.name}=${g.members.join(',')}` : g.name]);
  return [
    'agent',
    '--controller',
    c.controllerUrl,
    '--token',
    c.token,
    '--host',
    a.host,
    '--socket',
    join(c.runDir, `${a.host}.sock`),
    '--peers',
    c.peers,
    // In fifo mode the testbed is "the world without X-Lane": no kernel QoS on the hosts.
    '--iface',
    c.hostQos ? a.ifname : 'none',
    '--engine',
    c.engine,
    // Every emulated host shares this machine's CPUs: the paper's interrupt-style receive, not an
    // engine thread per host busy-polling (the interference bench's choice too).
    ...(c.engine === 'native' ? ['--receive', 'blocking'] : []),
    // ... and no engine spinning longer before a boundary than the old fixed margin.
    '--max-spin-us',
    String(SHARED_CPU_MAX_SPIN_US),
    ...fd,
  ];
}
