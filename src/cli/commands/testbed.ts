// `xlane testbed up|down|status`: the topology built in network namespaces (src/testbed). Thin:
// parse, call the library, print a table or `--json`.
import { dirname } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { loadNativeAddon } from '../../engine/native/addon.js';
import { XlaneError } from '../../errors.js';
import { agentOptionsFromCli } from '../../testbed/agent-options.js';
import type { Interrupted } from '../../testbed/apply.js';
import { testbedDown, testbedStartAgents, testbedUpInterruptible } from '../../testbed/lifecycle.js';
import { defaultTestbedName, validateHtbBurst, validateTestbedName } from '../../testbed/plan.js';
import { DEFAULT_RUNS_DIR, readState, resolveName, type TestbedState } from '../../testbed/state.js';
import { type TestbedStatus, testbedStatus } from '../../testbed/status.js';
import { runCrossTraffic } from '../../testbed/traffic.js';
import { loadTopologyFile } from '../../topology/load.js';
import { HTB_BURST_NS } from '../../util/htb-burst.js';
import { canonicalDuration, formatRate, parseDuration, parseRate } from '../../util/units.js';
import { cpuNumber, portNumber } from '../option-values.js';
import { plainTable } from '../plain-table.js';

interface UpOpts {
  topology: string;
  fifo?: boolean;
  name?: string;
  runsDir: string;
  json?: boolean;
  withAgents?: boolean;
  engine?: string;
  fd?: string[];
  htbBurst: string;
}

interface NamedOpts {
  name?: string;
  runsDir: string;
  json?: boolean;
}

export function register(program: Command): void {
  const testbed = program
    .command('testbed')
    .description('Build a topology in network namespaces (root): bridges, veths, HTB on every egress port.');

  testbed
    .command('up')
    .description('Build the testbed and record it in RUNS_DIR/<name>/testbed.json.')
    .requiredOption('--topology <file>', 'topology YAML (e.g. examples/testbed-3.yaml)')
    .option('--fifo', 'one FIFO class per port: the network without express lanes')
    .option('--name <name>', 'testbed name (default: the topology name)')
    .option('--runs-dir <dir>', 'folder of run folders', DEFAULT_RUNS_DIR)
    .option('--with-agents', 'also run the controller and an agent per host (logs in the run folder)')
    .option(
      '--engine <kind>',
      "with --with-agents: the agents' lane engine, native or js (default: native when the addon loads, else js)",
    )
    .option(
      '--fd <group[=members]>',
      'with --with-agents: the agents run the X-FD failure detector for this group (all hosts, or the members listed); repeatable',
      (v: string, all: string[] | undefined) => [...(all ?? []), v],
    )
    .option(
      '--htb-burst <duration>',
      'link time every HTB class may bank: covers late timer wake-ups, which otherwise cost throughput',
      canonicalDuration(HTB_BURST_NS),
    )
    .option('--json', 'print the state as JSON')
    .action(async (o: UpOpts) => {
      const spec = loadTopologyFile(o.topology);
      const name = validateTestbedName(o.name ?? defaultTestbedName(spec));
      const htbBurstNs = validateHtbBurst(parseDuration(o.htbBurst));
      // Checked before anything is built.
      const agents = agentOptionsFromCli(
        o,
        spec.hosts.map((h) => h.name),
        () => loadNativeAddon(),
      );
      const up = await testbedUpInterruptible(spec, {
        name,
        fifo: o.fifo ?? false,
        agents: o.withAgents ?? false,
        runsDir: o.runsDir,
        topologyFile: o.topology,
        htbBurstNs,
        onInterrupted: interrupted(name),
      });
      const { stateFile } = up;
      const state = agents
        ? await testbedStartAgents(o.runsDir, up.state, o.topology, agents.options, interrupted(name))
        : up.state;
      if (o.json) return console.log(JSON.stringify(state));
      const table = plainTable({ head: ['host', 'namespace', 'address'] });
      for (const a of state.plan.addresses) table.push([a.host, a.ns, a.address]);
      console.log(table.toString());
      console.log(
        `testbed ${name} is up (${state.plan.mode}, ${state.namespaces.length} namespaces, ` +
          `${state.plan.ports.length} shaped ports); state: ${stateFile}`,
      );
      if (state.agents) {
        console.log(
          `controller ${state.agents.controllerUrl} (token in ${stateFile}); logs in ${dirname(stateFile)}`,
        );
        if (agents) console.log(agents.engineNote);
        for (const p of state.agents.processes) console.log(`  ${p.role} ${p.host ?? ''} pid ${p.pid}`);
      } else console.log(`agents: --peers ${state.peers}`);
      console.log(`remove it with: xlane testbed down --name ${name}`);
    });

  testbed
    .command('status')
    .description('Namespaces present and, per egress port, HTB classes with packet counters.')
    .option('--name <name>', 'testbed name (default: the only one in RUNS_DIR)')
    .option('--runs-dir <dir>', 'folder of run folders', DEFAULT_RUNS_DIR)
    .option('--json', 'print as JSON')
    .action((o: NamedOpts) => {
      // Without root, tc cannot enter the namespaces and root's agents look dead (kill(pid, 0) is
      // EPERM): a status made of errors and false EXITEDs is worse than a clear refusal.
      needRoot('status reads tc counters inside the namespaces');
      const name = resolveName(o.runsDir, o.name);
      const state = readState(o.runsDir, name);
      if (!state) throw new XlaneError('XL_ERR_NOT_FOUND', `no testbed ${name} under ${o.runsDir}/`);
      const status = testbedStatus(state);
      if (o.json) return console.log(JSON.stringify(status));
      printStatus(status);
    });

  registerTraffic(testbed);

  testbed
    .command('down')
    .description('Remove every namespace of the testbed (and with them its links and qdiscs).')
    .option('--name <name>', 'testbed name (default: the only one in RUNS_DIR)')
    .option('--runs-dir <dir>', 'folder of run folders', DEFAULT_RUNS_DIR)
    .option('--json', 'print as JSON')
    .action((o: NamedOpts) => {
      const name = o.name ?? resolveName(o.runsDir, undefined);
      const res = testbedDown(o.runsDir, validateTestbedName(name));
      if (o.json) return console.log(JSON.stringify(res));
      console.log(
        res.removed.length === 0 && !res.hadState
          ? `testbed ${name}: nothing to remove`
          : `testbed ${name} removed (${res.removed.length} namespaces, ${res.stopped.length} processes stopped)`,
      );
    });
}

interface TrafficOpts extends NamedOpts {
  from: string;
  to: string;
  udp?: number;
  seconds: number;
  port?: number;
  streams?: number;
  cpu?: number;
}

function needRoot(what: string): void {
  if (process.getuid?.() !== 0)
    throw new XlaneError('XL_ERR_NOT_ROOT', `testbed ${what}: run as root (CAP_SYS_ADMIN and CAP_NET_ADMIN)`);
}

/** Ctrl-C during `up` removes the testbed and exits: say so, or the user cannot tell what is left. */
function interrupted(name: string): (note: Interrupted) => void {
  return ({ signal, removed, stopped }) =>
    console.error(
      `interrupted (${signal}): removed the testbed ${name} (${removed.length} namespaces` +
        `${stopped ? `, ${stopped} processes stopped` : ''})`,
    );
}

/** An unknown host is XL_ERR_UNKNOWN_HOST here as in every other command (the library's own check
 * reports it with the traffic's other problems, as XL_ERR_VALIDATION). */
function knownHosts(state: TestbedState, names: string[]): void {
  const hosts = state.plan.addresses.map((a) => a.host);
  for (const h of names)
    if (!hosts.includes(h))
      throw new XlaneError(
        'XL_ERR_UNKNOWN_HOST',
        `no host ${h} in testbed ${state.name} (hosts: ${hosts.join(', ')})`,
      );
}

function positive(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

function rateArg(value: string): number {
  try {
    return parseRate(value);
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message : String(err));
  }
}

function registerTraffic(testbed: Command): void {
  testbed
    .command('traffic')
    .description(
      'Cross traffic with iperf3 between two testbed hosts: TCP bulk, or paced UDP with --udp RATE.',
    )
    .requiredOption('--from <host>', 'sending host')
    .requiredOption('--to <host>', 'receiving host')
    .option('--udp <rate>', 'paced UDP at this rate (e.g. 500Mbit) instead of TCP bulk', rateArg)
    .option('--seconds <s>', 'duration (bounded: at most 3600)', positive, 10)
    .option('--port <port>', 'iperf3 port on the receiver', (v: string) => portNumber('port', v))
    .option('--streams <n>', 'parallel TCP streams', positive)
    .option(
      '--cpu <n>',
      "pin both iperf3 processes (and most of the flow's softirq work) to this CPU",
      (v: string) => cpuNumber('cpu', v),
    )
    .option('--name <name>', 'testbed name (default: the only one in RUNS_DIR)')
    .option('--runs-dir <dir>', 'folder of run folders', DEFAULT_RUNS_DIR)
    .option('--json', 'print as JSON')
    .action(async (o: TrafficOpts) => {
      // Checked first: otherwise `ip netns exec` is refused and all the user sees is XL_ERR_KERNEL
      // "iperf3 server exited (255) before listening".
      needRoot('traffic runs iperf3 inside the namespaces (ip netns exec)');
      const name = resolveName(o.runsDir, o.name);
      const state = readState(o.runsDir, name);
      if (!state) throw new XlaneError('XL_ERR_NOT_FOUND', `no testbed ${name} under ${o.runsDir}/`);
      knownHosts(state, [o.from, o.to]);
      const r = await runCrossTraffic(state, {
        from: o.from,
        to: o.to,
        kind: o.udp !== undefined ? 'udp' : 'tcp',
        seconds: o.seconds,
        ...(o.udp !== undefined ? { rateBps: o.udp } : {}),
        ...(o.port !== undefined ? { port: o.port } : {}),
        ...(o.streams !== undefined ? { streams: o.streams } : {}),
        ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
      });
      if (o.json) return console.log(JSON.stringify(r));
      const loss =
        r.kind === 'tcp' ? `${r.retransmits ?? 0} retransmits` : `${r.lostPackets ?? 0} datagrams lost`;
      console.log(
        `${r.kind} ${r.from}→${r.to} for ${r.seconds} s: received ${formatRate(r.receivedBps)}, sent ${formatRate(r.sentBps)}, ${loss}`,
      );
    });
}

function printStatus(s: TestbedStatus): void {
  const missing = s.namespaces.filter((n) => !n.present).map((n) => n.ns);
  console.log(
    `testbed ${s.name} (${s.mode}), up since ${s.createdAt}: ` +
      (s.up ? `all ${s.namespaces.length} namespaces present` : `MISSING ${missing.join(', ')}`),
  );
  console.log(`agents: --peers ${s.peers}`);
  if (s.agents) {
    console.log(
      `controller ${s.agents.controllerUrl}` +
        (s.agents.engine ? `; agents run the ${s.agents.engine} engine` : ''),
    );
    for (const p of s.agents.processes) {
      console.log(
        `  ${p.role} ${p.host ?? ''} pid ${p.pid}: ${p.alive ? 'running' : 'EXITED'} (log ${p.log})`,
      );
    }
  }
  const table = plainTable({
    head: ['port', 'class', 'role', 'prio', 'rate', 'ceil', 'packets', 'bytes', 'dropped'],
  });
  for (const p of s.ports) {
    const port = `${p.node}→${p.peer} (${p.ifname})`;
    if (p.error) {
      table.push([port, { colSpan: 8, content: p.error }]);
      continue;
    }
    for (const c of p.classes) {
      table.push([
        port,
        c.classid,
        p.roles[c.classid] ?? (c.parent === 'root' ? 'port' : ''),
        c.prio ?? '',
        c.rateBps !== undefined ? formatRate(c.rateBps) : '',
        c.ceilBps !== undefined ? formatRate(c.ceilBps) : '',
        c.sentPackets,
        c.sentBytes,
        c.dropped,
      ]);
    }
  }
  console.log(table.toString());
}
