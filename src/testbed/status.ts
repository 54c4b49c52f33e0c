// What is actually in the kernel for a testbed: which of its namespaces exist and, per egress port,
// the HTB classes with tc's packet/byte counters (the proof that express traffic lands in 1:10).
// The parser is pure; `testbedStatus` does the I/O.
import { BEST_EFFORT_CLASS, EXPRESS_CLASS } from '../agent/qos/desired.js';
import { parseClassText } from '../agent/qos/tc-parse.js';
import { run } from './apply.js';
import { listNamespaces } from './netns.js';
import type { PlannedClass } from './plan.js';
import type { TestbedState } from './state.js';

export interface ClassCounters {
  classid: string;
  parent: string;
  prio?: number;
  rateBps?: number;
  ceilBps?: number;
  sentBytes: number;
  sentPackets: number;
  dropped: number;
}

export interface PortStatus {
  node: string;
  peer: string;
  ns: string;
  ifname: string;
  /** The class roles of the plan, so a reader sees which classid is express. */
  roles: Record<string, PlannedClass['role']>;
  classes: ClassCounters[];
  error?: string;
}

export interface TestbedStatus {
  name: string;
  mode: string;
  createdAt: string;
  peers: string;
  namespaces: { ns: string; present: boolean }[];
  /** Every planned namespace exists. */
  up: boolean;
  ports: PortStatus[];
  /** `--with-agents`: controller URL, the agents' engine (when recorded) and whether each recorded
   * process still runs. */
  agents?: {
    controllerUrl: string;
    engine?: string;
    processes: { role: string; host?: string; pid: number; alive: boolean; log: string }[];
  };
}

const SENT = /^Sent (\d+) bytes (\d+) pkt \(dropped (\d+)/;

/** `tc -s class show` text → classes with counters (the counters follow their class line). */
export function parseClassStats(stdout: string): ClassCounters[] {
  const out: ClassCounters[] = [];
  let last: ClassCounters | undefined;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (t.startsWith('class ')) {
      const c = parseClassText(t)[0];
      last = c
        ? {
            classid: c.classid,
            parent: c.parent,
            ...(c.prio !== undefined ? { prio: c.prio } : {}),
            ...(c.rateBps !== undefined ? { rateBps: c.rateBps } : {}),
            ...(c.ceilBps !== undefined ? { ceilBps: c.ceilBps } : {}),
            sentBytes: 0,
            sentPackets: 0,
            dropped: 0,
          }
        : undefined;
      if (last) out.push(last);
      continue;
    }
    const m = SENT.exec(t);
    if (m && last) {
      last.sentBytes = Number(m[1]);
      last.sentPackets = Number(m[2]);
      last.dropped = Number(m[3]);
    }
  }
  return out.sort((a, b) => a.classid.localeCompare(b.classid));
}

export function testbedStatus(state: TestbedState): TestbedStatus {
  const present = new Set(listNamespaces());
  const namespaces = state.namespaces.map((ns) => ({ ns, present: present.has(ns) }));
  const planned = state.plan.ports.map((p) => ({
    node: p.node,
    peer: p.peer,
    ns: p.ns,
    ifname: p.ifname,
    roles: Object.fromEntries(p.classes.map((c) => [c.classid, c.role])),
  }));
  // With agents in express mode, host egress ports carry the agent's own HTB (desired.ts).
  const agentOwned = state.plan.agents?.hostQos
    ? state.plan.addresses.map((a) => ({
        node: a.host,
        peer: peerOf(state, a.host),
        ns: a.ns,
        ifname: a.ifname,
        roles: { [EXPRESS_CLASS]: 'express', [BEST_EFFORT_CLASS]: 'best-effort' } as PortStatus['roles'],
      }))
    : [];
  const ports: PortStatus[] = [...agentOwned, ...planned].map((base) => {
    if (!present.has(base.ns)) return { ...base, classes: [], error: 'namespace missing' };
    try {
      return {
        ...base,
        classes: parseClassStats(run('tc', ['-n', base.ns, '-s', 'class', 'show', 'dev', base.ifname])),
      };
    } catch (err) {
      return { ...base, classes: [], error: (err as Error).message };
    }
  });
  return {
    name: state.name,
    mode: state.plan.mode,
    createdAt: state.createdAt,
    peers: state.peers,
    namespaces,
    up: namespaces.every((n) => n.present),
    ports,
    ...(state.agents
      ? {
          agents: {
            controllerUrl: state.agents.controllerUrl,
            ...(state.agents.engine ? { engine: state.agents.engine } : {}),
            processes: state.agents.processes.map((p) => ({ ...p, alive: pidAlive(p.pid) })),
          },
        }
      : {}),
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function peerOf(state: TestbedState, host: string): string {
  const v = state.plan.veths.find((x) => x.a.node === host || x.b.node === host);
  return v ? (v.a.node === host ? v.b.node : v.a.node) : '?';
}
