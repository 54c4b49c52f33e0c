// `xlane bench fd`'s set-up steps: the FD lanes from a real controller (asked exactly as the agent's
// X-FD service asks), the host calibration, and the member processes (fd-peer.ts) — started in
// their namespaces, configured from the grants, waited for until every other member hears them.
import { type ChildProcess, spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { desiredLaneSpecs } from '../agent/lane-specs.js';
import type { ControllerClient } from '../client/controller-client.js';
import type { WireGrant } from '../controller/views.js';
import { RealtimeOffset } from '../engine/clock.js';
import { measureRealtimeOffsetBest } from '../engine/native/select.js';
import { XlaneError } from '../errors.js';
import { fdLaneName } from '../fd/group-config.js';
import { FD_PAYLOAD_BYTES } from '../fd/group-service.js';
import { failureTimeoutNs } from '../fd/timeout.js';
import type { TestbedState } from '../testbed/state.js';
import type { TopologySpec } from '../topology/spec.js';
import { backupCores } from './backup-cores.js';
import { PeerProcess, peerCommand } from './engine-peer-process.js';
import type { FdPeerConfig, FdPeerReply, FdPeerRequest } from './fd-peer-protocol.js';
import type { FdBenchOptions, FdBenchRecord } from './fd-types.js';

export type FdPeer = PeerProcess<FdPeerRequest, FdPeerReply>;

/** The lanes of every member are asked under this group name: `xfd.bench.<host>`. */
export const BENCH_GROUP = 'bench';
export const DGRAM_PORT = 7401;
const REVIVE_TIMEOUT_MS = 20_000;

/** One member's current process and incarnation. */
export interface Member {
  host: string;
  ns: string;
  address: string;
  peer: FdPeer;
  child: ChildProcess;
  incarnation: number;
}

export interface Allocation {
  grants: Map<string, WireGrant[]>;
  /** observer → member → TO (ns). */
  timeouts: Map<string, Map<string, number>>;
  lanes: FdBenchRecord['lanes'];
  hostBounds: FdBenchRecord['hostBounds'];
}

export function peerConfig(
  o: FdBenchOptions,
  state: TestbedState,
  name: string,
  host: string,
  enginePort: number,
  sampleDir: string,
): FdPeerConfig {
  const addressOf = (h: string) => state.plan.addresses.find((x) => x.host === h)!.address;
  return {
    testbed: name,
    host,
    engine: o.engine,
    receive: o.receive,
    ...(o.fifoPriority !== undefined ? { fifoPriority: o.fifoPriority } : {}),
    ...(o.spinUs !== undefined ? { spinUs: o.spinUs } : {}),
    ...(o.backup ? backupCores(o.members.indexOf(host), cpus().length) : {}),
    address: addressOf(host),
    enginePort,
    dgramPort: DGRAM_PORT,
    periodNs: o.periodNs,
    members: o.members.filter((m) => m !== host).map((m) => ({ host: m, address: addressOf(m) })),
    phi: {
      threshold: o.phiThreshold,
      maxSampleSize: 1000,
      minStdDeviationNs: o.phiMinStdNs,
      acceptableHeartbeatPauseNs: o.phiPauseNs,
      firstHeartbeatEstimateNs: o.periodNs,
    },
    // Far beyond any planned run: the dgram sender must stop even if the orchestrator vanished.
    maxSeconds: o.minutes * 180 + o.injections * 30 + 600,
    sampleDir,
  };
}

export async function startPeer(
  ns: string,
  cfg: FdPeerConfig,
): Promise<{ peer: FdPeer; child: ChildProcess }> {
  const { argv, cwd } = peerCommand('fd-peer');
  const child = spawn('ip', ['netns', 'exec', ns, ...argv, JSON.stringify(cfg)], {
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const peer: FdPeer = new PeerProcess(cfg.host, child);
  try {
    // Generous: with SCHED_FIFO engine threads on every member (--fifo) a restarted peer's start-up
    // gets little CPU on a 2-vCPU machine — 5–13 s measured, once over a minute.
    await peer.next('ready', 180_000);
  } catch (err) {
    peer.kill();
    throw err;
  }
  return { peer, child };
}

/** The member's engine specs from its grants: its own FD lane heartbeats with its incarnation,
 * the others' are watched with TO from their grants (and delivered to JS for φ-accrual when the
 * baselines run). Receivers are set before the sender, as the agent does. */
const benchRealtimeOffset = new RealtimeOffset(() => measureRealtimeOffsetBest());

export function configure(
  m: Member,
  alloc: Allocation,
  o: FdBenchOptions,
  state: TestbedState,
  enginePort: number,
) {
  const { specs, errors } = desiredLaneSpecs(alloc.grants.get(m.host) ?? [], {
    host: m.host,
    peers: new Map(state.plan.addresses.map((a) => [a.host, a.address])),
    expressPort: enginePort,
    // Every emulated host shares this machine's clocks: one offset serves them all.
    realtimeOffsetNs: () => benchRealtimeOffset.get(),
    heartbeats: {
      sender: (g) => (g.sender === m.host ? { incarnation: m.incarnation } : undefined),
      receiver: (g) => ({ deliver: o.baselines, timeoutNs: failureTimeoutNs(g, m.host)! }),
    },
  });
  if (errors.length > 0) {
    throw new XlaneError(
      'XL_ERR_INTERNAL',
      `cannot configure ${m.host}: ${errors.map((e) => e.message).join('; ')}`,
    );
  }
  const laneMembers: Record<string, string> = {};
  for (const g of alloc.grants.get(m.host) ?? []) if (g.sender !== m.host) laneMembers[g.laneId] = g.sender;
  return m.peer.request(
    {
      op: 'configure',
      senders: [...specs.senders.values()],
      receivers: [...specs.receivers.values()],
      laneMembers,
      incarnation: m.incarnation,
      dgram: o.baselines,
      dgramTimeoutNs: Object.fromEntries(alloc.timeouts.get(m.host)!),
    },
    10_000,
  );
}

/** Until every other member's engine reports `host` alive on `incarnation`. */
export async function waitAlive(
  members: Map<string, Member>,
  host: string,
  incarnation: number,
): Promise<void> {
  const deadline = Date.now() + REVIVE_TIMEOUT_MS;
  for (const m of members.values()) {
    if (m.host === host) continue;
    for (;;) {
      const s = await m.peer.request({ op: 'status' }, 10_000);
      const w = s.members.find((x) => x.member === host);
      if (w?.state === 'alive' && w.incarnation === incarnation) break;
      if (Date.now() > deadline) {
        throw new XlaneError(
          'XL_ERR_TIMEOUT',
          `${m.host} did not hear ${host} alive on incarnation ${incarnation} within ${REVIVE_TIMEOUT_MS / 1000} s`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The members calibrate one after the other, as hosts on their own CPUs would (all at once
 * overloads the shared vCPUs: see interference.ts); the controller gets each host's bounds exactly
 * as an agent started with `--host-bounds measure` sends them. */
export async function calibrate(
  client: ControllerClient,
  members: Map<string, Member>,
  o: FdBenchOptions,
  spec: TopologySpec,
): Promise<void> {
  for (const m of members.values()) {
    const r = await m.peer.request(
      { op: 'calibrate', seconds: o.calibrateSeconds, periodNs: o.periodNs, dscp: spec.expressDscp ?? 46 },
      (o.calibrateSeconds + 30) * 1000,
    );
    await client.setHostLatency(m.host, r.request);
  }
}

/** One FD lane per member, asked exactly as the agent's X-FD service asks for it. */
export async function allocate(client: ControllerClient, o: FdBenchOptions): Promise<Allocation> {
  const lanes: FdBenchRecord['lanes'] = [];
  for (const m of o.members) {
    const { lane } = await client.openLane({
      name: fdLaneName(BENCH_GROUP, m),
      sender: m,
      receivers: o.members.filter((x) => x !== m),
      maxPayloadBytes: FD_PAYLOAD_BYTES,
      minPeriodNs: o.periodNs,
      policy: 'coalesce',
    });
    const g = lane.grant;
    lanes.push({
      lane: g.laneId,
      sender: g.sender,
      periodNs: g.minPeriodNs,
      windows: g.receivers.map((r) => ({
        host: r.host,
        lambdaMinUs: r.lambdaMinNs / 1000,
        lambdaMaxUs: r.lambdaMaxNs / 1000,
      })),
    });
  }
  const grants = new Map<string, WireGrant[]>();
  for (const h of o.members) grants.set(h, (await client.grants(h)).grants);
  const timeouts = new Map<string, Map<string, number>>();
  for (const observer of o.members) {
    const row = new Map<string, number>();
    for (const g of grants.get(observer)!) {
      if (g.sender === observer) continue;
      if (g.state !== 'live')
        throw new XlaneError('XL_ERR_INTERNAL', `FD lane ${g.laneId} of ${g.sender} is ${g.state}, not live`);
      row.set(g.sender, failureTimeoutNs(g, observer)!);
    }
    timeouts.set(observer, row);
  }
  const hostBounds = (await client.hosts())
    .filter((h) => o.members.includes(h.name))
    .map((h) => {
      const us = (r: { minNs: number; maxNs: number }): [number, number] => [r.minNs / 1000, r.maxNs / 1000];
      return {
        host: h.name,
        source: h.bounds.source,
        sendUs: us(h.bounds.sendLatency),
        recvUs: us(h.bounds.recvLatency),
      };
    });
  return { grants, timeouts, lanes, hostBounds };
}
