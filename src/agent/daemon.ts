// Runs a complete agent from command-line style options: peers, engine, kernel QoS (when allowed),
// the agent itself, the metrics endpoint and the local API socket. `xlane agent` is a thin shell
// around this; the testbed can call it in-process too.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ControllerClient } from '../client/controller-client.js';
import type { Engine } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import { parseFdGroup, validateGroups } from '../fd/group-config.js';
import { claimIncarnation } from '../fd/incarnation.js';
import { Agent, type AgentFdOptions, type AgentQosOptions } from './agent.js';
import { processHasNetAdmin } from './capabilities.js';
import { createEngine, type EngineKind, type EngineTuning } from './engine-factory.js';
import type { HostBoundsMode } from './host-bounds/options.js';
import type { BoundsPolicy } from './host-bounds/statistics.js';
import { type LocalApi, startLocalApi } from './local-api/server.js';
import type { AgentLog } from './log.js';
import { type MetricsServer, startMetricsServer } from './metrics/server.js';
import { loadPeersFile, mergePeers, parsePeerList } from './peers.js';
import { execNftRunner } from './qos/dscp-marker.js';
import { execTcRunner } from './qos/tc-runner.js';

export interface DaemonOptions {
  controller?: string;
  token?: string;
  host: string;
  engine: EngineKind;
  /** SCHED_FIFO, receive mode and spin margin of the engine's thread. */
  engineTuning?: EngineTuning;
  core?: number;
  socket: string;
  /** Where the agent keeps what must outlive it (its applications' lanes, the X-FD incarnation):
   * `<dir>/<host>.app-lanes`, `<dir>/<host>.fd-incarnation`. Default: next to the socket,
   * `<socket>.app-lanes` — which a /run socket loses at a reboot (stateFiles). */
  stateDir?: string;
  /** Egress interface for kernel QoS; 'none' → no QoS, knowingly; absent → no QoS and a warning. */
  iface?: string;
  /** `h1=10.0.0.1,…` */
  peers?: string;
  peersFile?: string;
  /** HOST:PORT of the /metrics endpoint. */
  metrics?: string;
  log: AgentLog;
  /** Pretend CAP_NET_ADMIN is (not) there, instead of reading /proc/self/status. */
  netAdmin?: boolean;
  /** An engine to run instead of creating one of kind `engine` (embedding, tests). */
  engineInstance?: Engine;
  /** 'measure': calibrate at start and send the bounds to the controller (default 'declared'). */
  hostBounds?: HostBoundsMode;
  /** How long the calibration sends (s; default 2, at most 30). */
  calibrateSeconds?: number;
  /** How the calibration's figures become bounds (statistics.ts; defaults p99.99 × 1.5, never
   * below the observed max, half send / half receive). */
  boundsPolicy?: Partial<BoundsPolicy>;
  /** X-FD groups, `GROUP=h1,h2,h3` each (the --fd option). */
  fd?: string[];
  /** Whether a network interface of this name exists (default: /sys/class/net/NAME). */
  interfaceExists?: (name: string) => boolean;
  /** Heartbeat period asked for the FD lanes (ns; default 1 ms). */
  fdPeriodNs?: number;
  /** Suspected this long without interruption → down (ns; default 1 s). */
  fdConfirmNs?: number;
}

/** `--iface none`: run without kernel QoS on purpose (no interface is named "none"). */
export const NO_QOS_IFACE = 'none';

/** Every interface the kernel has, up or down, is a directory there (symlinks to devices). Not ''
 * (that path is the directory itself), nor a name the kernel refuses (dev_valid_name: '/', ':'
 * or blanks, '.', '..', 16 bytes or more). */
export function sysInterfaceExists(name: string): boolean {
  return (
    name !== '' &&
    name.length < 16 &&
    !/[/:\s]/.test(name) &&
    name !== '.' &&
    name !== '..' &&
    existsSync(`/sys/class/net/${name}`)
  );
}

/** An interface named explicitly must exist: a typo would otherwise run the host without its QoS
 * (and place the lane core by a NIC that is not there), with only a warning to show for it. */
export function checkInterface(
  iface: string | undefined,
  exists: (name: string) => boolean = sysInterfaceExists,
): void {
  if (iface === undefined || iface === NO_QOS_IFACE) return;
  // Before `exists`: an empty name would otherwise reach tc as `dev ""`.
  if (iface.trim() === '')
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `--iface is ${iface === '' ? 'empty' : 'blank'}: name the egress toward the peers, or --iface none`,
      { iface },
    );
  if (exists(iface)) return;
  throw new XlaneError(
    'XL_ERR_VALIDATION',
    `no network interface ${iface} (--iface: the egress toward the peers, \`ip route get PEER\` names it; or --iface none)`,
    { iface },
  );
}

export interface Daemon {
  agent: Agent;
  localApi: LocalApi;
  metrics: MetricsServer | undefined;
  close(): Promise<void>;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const peers = mergePeers(
    o.peersFile ? loadPeersFile(o.peersFile) : new Map(),
    o.peers ? parsePeerList(o.peers) : new Map(),
  );
  checkInterface(o.iface, o.interfaceExists);
  const fd = await fdOptions(o);
  const controller = new ControllerClient({
    ...(o.controller ? { url: o.controller } : {}),
    ...(o.token ? { token: o.token } : {}),
  });
  let qos: AgentQosOptions | undefined;
  if (o.iface === undefined)
    // Said once at start: an operator who forgot --iface would otherwise believe the express class
    // is in place while the host's egress queue treats every packet alike.
    o.log.warn(
      {},
      'no --iface: running without kernel QoS (express traffic is not prioritised on this host); pass --iface DEV (the egress toward the peers, `ip route get PEER` names it), or --iface none to say so',
    );
  else if (o.iface !== NO_QOS_IFACE) {
    if (o.netAdmin ?? processHasNetAdmin())
      qos = { iface: o.iface, runner: execTcRunner(), nft: execNftRunner() };
    else
      o.log.warn(
        { iface: o.iface },
        'no CAP_NET_ADMIN: running without kernel QoS (express traffic is not prioritised on this host); run as root or grant cap_net_admin',
      );
  }
  const engine = o.engineInstance ?? createEngine(o.engine, o.log, o.engineTuning);
  const agent = await Agent.start({
    host: o.host,
    controller,
    engine,
    peers,
    log: o.log,
    ...(o.core !== undefined ? { core: o.core } : {}),
    ...(qos ? { qos } : {}),
    ...(o.hostBounds === 'measure'
      ? {
          hostBounds: {
            ...(o.calibrateSeconds !== undefined ? { seconds: o.calibrateSeconds } : {}),
            ...(o.boundsPolicy ? { policy: o.boundsPolicy } : {}),
          },
        }
      : {}),
    ...(fd ? { fd } : {}),
  });
  let metrics: MetricsServer | undefined;
  let localApi: LocalApi | undefined;
  try {
    if (o.metrics) metrics = await startMetricsServer(o.metrics, agent.metrics);
    await mkdir(dirname(o.socket), { recursive: true });
    if (o.stateDir !== undefined) await makeStateDir(o.stateDir);
    localApi = await startLocalApi({ socketPath: o.socket, backend: agent });
    // Only now: startLocalApi refuses a socket another agent still serves, and that agent's lanes
    // are not orphans.
    agent.trackAppLanes(stateFiles(o).appLanes);
  } catch (err) {
    await metrics?.close();
    await agent.close();
    throw err;
  }
  const api = localApi;
  return {
    agent,
    localApi: api,
    metrics,
    async close() {
      // Applications first (their lanes close), then the endpoints, then QoS and the engine.
      await api.close();
      await metrics?.close();
      await agent.close();
    },
  };
}

/** Parses --fd before anything starts, and takes this run's incarnation: recorded next to the
 * socket, so a restart counts up even within the same second (see fd/incarnation.ts). */
async function fdOptions(o: DaemonOptions): Promise<AgentFdOptions | undefined> {
  const groups = (o.fd ?? []).map(parseFdGroup);
  if (groups.length === 0) return undefined;
  validateGroups(o.host, groups);
  for (const [flag, v] of [
    ['--fd-period', o.fdPeriodNs],
    ['--fd-confirm', o.fdConfirmNs],
  ] as const) {
    if (v !== undefined && !(v > 0)) throw new XlaneError('XL_ERR_VALIDATION', `${flag} must be > 0`);
  }
  const path = stateFiles(o).fdIncarnation;
  await mkdir(dirname(path), { recursive: true }).catch(() => {});
  const incarnation = claimIncarnation(path, Date.now(), (msg) => o.log.warn({ path }, `fd: ${msg}`));
  o.log.info({ groups: groups.map((g) => g.name), incarnation }, 'fd: failure detector on');
  return {
    groups,
    incarnation,
    ...(o.fdPeriodNs !== undefined ? { periodNs: o.fdPeriodNs } : {}),
    ...(o.fdConfirmNs !== undefined ? { confirmNs: o.fdConfirmNs } : {}),
  };
}

/** The agent's files. Next to the socket by default; a persistent --state-dir keeps them across a
 * reboot, after which every application that held a lane is gone and the next agent releases it. */
export function stateFiles(o: Pick<DaemonOptions, 'socket' | 'stateDir' | 'host'>): {
  appLanes: string;
  fdIncarnation: string;
} {
  const base = o.stateDir !== undefined ? join(o.stateDir, o.host) : o.socket;
  return { appLanes: `${base}.app-lanes`, fdIncarnation: `${base}.fd-incarnation` };
}

async function makeStateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new XlaneError('XL_ERR_VALIDATION', `cannot create --state-dir ${dir}: ${(err as Error).message}`, {
      stateDir: dir,
    });
  }
}
