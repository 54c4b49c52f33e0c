// connect(): the library's entry point. `{ socket }` reaches the host's agent over its Unix socket;
// `{ embedded }` runs an engine in this process (lowest latency, no agent needed on the host);
// `{ backend }` plugs any LocalBackend in (the agent uses it in-process; tests use a fake).
import { resolve } from 'node:path';
import { Agent, type AgentFdOptions, type AgentOptions } from '../agent/agent.js';
import type { LocalBackend } from '../agent/local-api/backend.js';
import { createEngineOfKind, type EngineKind } from '../engine/native/select.js';
import type { Engine } from '../engine/types.js';
import { isXlaneError, XlaneError } from '../errors.js';
import { nextIncarnation } from '../fd/incarnation.js';
import { BackendTransport } from './backend-transport.js';
import { Client } from './client.js';
import { ControllerClient } from './controller-client.js';
import { defaultStateDir, EmbeddedLaneRecords } from './lane-records.js';
import { SocketTransport } from './socket-transport.js';

export const DEFAULT_SOCKET = '/run/xlane/agent.sock';

export interface EmbeddedOptions {
  /** Controller base URL (or a ready ControllerClient). */
  controller: string | ControllerClient;
  /** Bearer token for the controller (default env XLANE_TOKEN). */
  token?: string;
  /** This host's name in the topology. */
  host: string;
  /** An Engine instance, or a kind: 'js' (default), the TypeScript engine; 'native', the C engine
   * on its own busy-polling thread (docs/native-engine.md). 'native' falls back to the js engine
   * when the addon is not built or does not load, exactly as the agent's `--engine native` does,
   * with one process warning (code XL_NATIVE_FALLBACK) that says why. To refuse the fallback, pass
   * an instance: `createNativeEngine()` returns the reason instead of an engine. For the native
   * engine's 'poll' mode (the application's thread polls) pass an instance too: it needs poll(). */
  engine?: Engine | EngineKind;
  /** Address this process receives express frames on (default: this host's entry in `peers`).
   * The UDP port is the topology's expressPort, the same on every host, as with the agent. */
  bindAddress?: string;
  /** Address of every host this one exchanges lanes with: name → IP address. */
  peers: Record<string, string> | ReadonlyMap<string, string>;
  core?: number;
  /** How long connect() waits for the first grant snapshot (default 10 s). */
  readyTimeoutMs?: number;
  /** Run X-FD in this process for these groups (client.failureDetector(group) then follows one).
   * The incarnation defaults to the wall clock in seconds: restart no faster than once a second,
   * or pass a larger one yourself. */
  fd?: Omit<AgentFdOptions, 'incarnation'> & { incarnation?: number };
  /** Where this client records the lanes it opens (one small file per client, gone once it closes
   * with every lane released), so that lanes it leaves admitted at the controller (the process was
   * killed, or closed while the controller did not answer) are released by the next embedded start
   * for the same host and controller URL with this directory. Processes may share it: a start only
   * takes over the records of clients that closed or whose process is gone. Keep it on a disk local
   * to the machine. Default `$XDG_STATE_HOME/xlane/embedded` (`~/.local/state/xlane/embedded`);
   * false: record nothing. */
  stateDir?: string | false;
  /** How long client.close() may spend releasing this client's lanes at the controller — their
   * closes, and retries of those the controller refused or did not answer — before it gives up and
   * rejects, naming the lanes left (default 5 s; 0: do not wait). */
  releaseTimeoutMs?: number;
}

export type ConnectOptions =
  | { socket?: string; timeoutMs?: number; maxFrameBytes?: number }
  | { embedded: EmbeddedOptions }
  | { backend: LocalBackend; shutdown?: () => Promise<void> };

export async function connect(opts: ConnectOptions = {}): Promise<Client> {
  if ('backend' in opts) return new Client(new BackendTransport(opts.backend, opts.shutdown));
  if ('embedded' in opts) return connectEmbedded(opts.embedded);
  // `||`: an empty XLANE_SOCKET is unset, as the CLI takes its XLANE_* variables.
  const socket = opts.socket ?? (process.env.XLANE_SOCKET || DEFAULT_SOCKET);
  // net.connect('') would take it for a TCP port and fail with a Node error, not an XlaneError.
  if (typeof socket !== 'string' || socket === '')
    throw new XlaneError('XL_ERR_VALIDATION', "socket must be the path of the agent's Unix socket");
  return new Client(await SocketTransport.connect({ ...opts, socket }));
}

/** The embedded mode runs the agent's own lane half (grant following, engine sync, acks) in this
 * process, without the kernel QoS and the Unix socket that only a host-wide daemon should own. */
async function connectEmbedded(o: EmbeddedOptions): Promise<Client> {
  const controller =
    typeof o.controller === 'string'
      ? new ControllerClient({ url: o.controller, ...(o.token !== undefined ? { token: o.token } : {}) })
      : o.controller;
  const dir = o.stateDir === undefined ? defaultStateDir() : o.stateDir;
  if (dir !== false && (typeof dir !== 'string' || dir === ''))
    throw new XlaneError('XL_ERR_VALIDATION', 'embedded.stateDir must be a directory path or false');
  // Absolute now: the application may change its working directory while the client runs.
  const stateDir: string | false = dir === false ? false : resolve(dir);
  const releaseTimeoutMs = o.releaseTimeoutMs ?? 5_000;
  if (!Number.isFinite(releaseTimeoutMs) || releaseTimeoutMs < 0)
    throw new XlaneError('XL_ERR_VALIDATION', 'embedded.releaseTimeoutMs must be a number of ms ≥ 0');
  // The agent waits for an absent controller; an application asking to connect wants to know now.
  await controller.health();
  const engine = typeof o.engine === 'object' ? o.engine : engineOfKind(o.engine ?? 'js');
  const peers = o.peers instanceof Map ? o.peers : new Map(Object.entries(o.peers));
  const agent = await startAgent(engine, o.engine !== engine, {
    host: o.host,
    controller,
    peers,
    ...(o.bindAddress !== undefined ? { bindAddress: o.bindAddress } : {}),
    ...(o.core !== undefined ? { core: o.core } : {}),
    ...(o.fd
      ? { fd: { ...o.fd, incarnation: o.fd.incarnation ?? nextIncarnation(undefined, Date.now()) } }
      : {}),
  });
  if (stateDir !== false)
    agent.trackAppLanes(new EmbeddedLaneRecords(stateDir, { host: o.host, controller: controller.url }));
  const timeoutMs = o.readyTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  const ready = await Promise.race([
    agent.ready.then(() => true),
    new Promise<false>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!ready) {
    await agent.close().catch(() => {});
    throw new XlaneError(
      'XL_ERR_TIMEOUT',
      `no grant snapshot from ${controller.url} for ${o.host} in ${timeoutMs} ms`,
    );
  }
  const stop = { host: o.host, url: controller.url, stateDir, releaseTimeoutMs };
  return new Client(
    new BackendTransport(
      agent,
      (graceful, deadline) => stopAgent(agent, graceful, stop, deadline ?? Date.now() + releaseTimeoutMs),
      releaseTimeoutMs,
    ),
  );
}

/** A lane whose close the controller did not answer stays admitted there, and this process will
 * not connect again to release it. So close() gives the controller until `deadline` (its
 * releaseTimeoutMs: a restart takes seconds), then says which lanes are left rather than resolve as
 * if all were released; destroy() does not wait. Either way the lane record keeps them for the next
 * start. Closing the agent ends its requests still waiting for an answer. */
async function stopAgent(
  agent: Agent,
  graceful: boolean,
  o: { host: string; url: string; stateDir: string | false; releaseTimeoutMs: number },
  deadline: number,
): Promise<void> {
  const left = graceful
    ? await agent.releaseOrphansWithin(Math.max(0, deadline - Date.now()))
    : { lanes: [] };
  await agent.close();
  if (left.lanes.length === 0) return;
  const lanes = left.lanes.join(', ');
  const why = left.cause ? left.cause.message : 'the controller did not answer';
  throw new XlaneError(
    isXlaneError(left.cause) ? left.cause.code : 'XL_ERR_TIMEOUT',
    `could not release lane(s) ${lanes} within ${o.releaseTimeoutMs} ms, so they may stay admitted ` +
      `at ${o.url} (${why}); ` +
      (o.stateDir === false
        ? `nothing records them (stateDir: false): close them with \`xlane lanes close\``
        : `the next embedded start for ${o.host} with stateDir ${o.stateDir} releases them`),
    { lanes: left.lanes, host: o.host, stateDir: o.stateDir },
    left.cause ? { cause: left.cause } : undefined,
  );
}

/** What the agent's `--engine` does (agent/engine-factory.ts is createEngineOfKind plus its log):
 * the same fallback. The embedded agent logs nowhere, so the warning takes the library's default
 * road, process.emitWarning. */
function engineOfKind(kind: unknown): Engine {
  if (kind !== 'js' && kind !== 'native')
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `embedded.engine must be 'js', 'native' or an Engine, not ${String(kind)}`,
    );
  return createEngineOfKind(kind);
}

/** An engine connect() made is its to close when the agent does not start (an unknown host, a port
 * taken): a native engine's thread and sockets would outlive the failed call. */
async function startAgent(
  engine: Engine,
  owned: boolean,
  opts: Omit<AgentOptions, 'engine'>,
): Promise<Agent> {
  try {
    return await Agent.start({ ...opts, engine });
  } catch (err) {
    if (owned) await engine.close().catch(() => {});
    throw err;
  }
}
