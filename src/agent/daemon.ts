// Runs a complete agent from command-line style options: peers, engine, kernel QoS (when allowed),
// the agent itself, the metrics endpoint and the local API socket. `xlane agent` is a thin shell
// around this; the testbed can call it in-process too.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ControllerClient } from '../client/controller-client.js';
import type { Engine } from '../engine/types.js';
import { Agent } from './agent.js';
import { processHasNetAdmin } from './capabilities.js';
import { createEngine, type EngineKind } from './engine-factory.js';
import { type LocalApi, startLocalApi } from './local-api/server.js';
import type { AgentLog } from './log.js';
import { type MetricsServer, startMetricsServer } from './metrics/server.js';
import { loadPeersFile, mergePeers, parsePeerList } from './peers.js';
import { execTcRunner } from './qos/tc-runner.js';

export interface DaemonOptions {
  controller?: string;
  token?: string;
  host: string;
  engine: EngineKind;
  core?: number;
  socket: string;
  /** Egress interface for kernel QoS; none → no QoS. */
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
  const controller = new ControllerClient({
    ...(o.controller ? { url: o.controller } : {}),
    ...(o.token ? { token: o.token } : {}),
  });
  let qos: { iface: string; runner: ReturnType<typeof execTcRunner> } | undefined;
  if (o.iface) {
    if (o.netAdmin ?? processHasNetAdmin()) qos = { iface: o.iface, runner: execTcRunner() };
    else
      o.log.warn(
        { iface: o.iface },
        'no CAP_NET_ADMIN: running without kernel QoS (express traffic is not prioritised on this host); run as root or grant cap_net_admin',
      );
  }
  const engine = o.engineInstance ?? createEngine(o.engine, o.log);
  const agent = await Agent.start({
    host: o.host,
    controller,
    engine,
    peers,
    log: o.log,
    ...(o.core !== undefined ? { core: o.core } : {}),
    ...(qos ? { qos } : {}),
  });
  let metrics: MetricsServer | undefined;
  let localApi: LocalApi | undefined;
  try {
    if (o.metrics) metrics = await startMetricsServer(o.metrics, agent.metrics);
    await mkdir(dirname(o.socket), { recursive: true });
    localApi = await startLocalApi({ socketPath: o.socket, backend: agent });
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
