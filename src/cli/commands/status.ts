// `xlane status`: the controller at a glance: health, hosts and their agents, lanes by state, and
// the most loaded egress ports (express load against its share, per-hop delay bound).

import type { Command } from 'commander';
import type { PortReport } from '../../alloc/types.js';
import type { HostView } from '../../controller/views.js';
import type { LatencyRange } from '../../topology/spec.js';
import { formatDuration, formatRate } from '../../util/units.js';
import { plainTable } from '../plain-table.js';
import { type ClientCliOptions, clientFrom, withClientOptions } from './lanes.js';

const TOP_PORTS = 5;

export function register(program: Command): void {
  withClientOptions(
    program
      .command('status')
      .description('Controller health, hosts, lane counts and the most loaded ports.')
      .option('--json', 'print JSON'),
  ).action(async (o: ClientCliOptions & { json?: boolean }) => {
    const client = clientFrom(o);
    const [health, hosts, lanes, ports] = await Promise.all([
      client.health(),
      client.hosts(),
      client.lanes(),
      client.ports(),
    ]);
    const byState = { live: 0, pending: 0 };
    for (const l of lanes) byState[l.state] += 1;
    const busiest = mostLoaded(ports, TOP_PORTS);
    if (o.json) {
      console.log(
        JSON.stringify(
          { health, hosts, lanes: { total: lanes.length, ...byState }, ports: busiest },
          null,
          2,
        ),
      );
      return;
    }
    console.log(
      `controller ${client.url}: ${health.status}, version ${health.version}, epoch ${health.epoch}` +
        (health.agentProtocols
          ? `, control protocol ${health.protocol} (serves agents of ${health.agentProtocols.min}–${health.agentProtocols.max})`
          : ''),
    );
    console.log(`lanes: ${lanes.length} (live ${byState.live}, pending ${byState.pending})`);
    console.log(hostTable(hosts));
    if (busiest.length) console.log(portTable(busiest));
  });
}

/** Hosts, their agents, and the send / receive bounds every grant through them includes — with
 * where those came from (the topology file, the host's agent measuring them, or an operator). */
export function hostTable(hosts: HostView[]): string {
  const ht = plainTable({
    head: [
      'host',
      'registered',
      'connected',
      'version',
      'acked',
      'agent',
      'send bound',
      'receive bound',
      'release jitter',
      'bounds',
    ],
  });
  for (const h of hosts) {
    const b = h.bounds;
    ht.push([
      h.name,
      yes(h.registered),
      yes(h.connected),
      h.version,
      h.ackedVersion,
      // The control protocol too: what decides whether an agent and this controller work together.
      `${h.agentVersion ?? ''}${h.protocol !== undefined ? ` (protocol ${h.protocol})` : ''}`,
      range(b.sendLatency),
      range(b.recvLatency),
      b.releaseJitterNs ? formatDuration(b.releaseJitterNs) : '',
      b.at ? `${b.source} ${b.at}` : b.source,
    ]);
  }
  return ht.toString();
}

const range = (r: LatencyRange) => `${formatDuration(r.minNs)} – ${formatDuration(r.maxNs)}`;

export function portTable(ports: PortReport[]): string {
  const pt = plainTable({
    head: ['port', 'express', 'share', 'load', 'delay bound', 'lanes'],
  });
  for (const p of ports) {
    pt.push([
      `${p.from} → ${p.to}`,
      formatRate(p.expressBps),
      formatRate(p.shareBps),
      `${((100 * p.expressBps) / (p.shareBps || 1)).toFixed(1)}%`,
      formatDuration(p.delayNs),
      p.lanes,
    ]);
  }
  return pt.toString();
}

/** Ports carrying express traffic, most loaded (relative to their share) first. */
export function mostLoaded(ports: PortReport[], n: number): PortReport[] {
  return ports
    .filter((p) => p.lanes > 0)
    .sort((a, b) => b.expressBps / (b.shareBps || 1) - a.expressBps / (a.shareBps || 1))
    .slice(0, n);
}

function yes(b: boolean): string {
  return b ? 'yes' : 'no';
}
