// connect(): the library's entry point. `{ socket }` reaches the host's agent over its Unix socket;
// `{ embedded }` runs an engine in this process (lowest latency, no agent needed on the host);
// `{ backend }` plugs any LocalBackend in (the agent uses it in-process; tests use a fake).
import { Agent, type AgentFdOptions, type AgentOptions } from '../agent/agent.js';
import type { LocalBackend } from '../agent/local-api/backend.js';
import { createEngineOfKind, type EngineKind } from '../engine/native/select.js';
import type { Engine } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import { nextIncarnation } from '../fd/incarnation.js';
import { BackendTransport } from './backend-transport.js';
import { Client } from './client.js';
import { ControllerClient } from './controller-client.js';
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
}

export type ConnectOptions =
  | { socket?: string; timeoutMs?: number; maxFrameBytes?: number }
  | { embedded: EmbeddedOptions }
  | { backend: LocalBackend; shutdown?: () => Promise<void> };

export async function connect(opts: ConnectOptions = {}): Promise<Client> {
  if ('backend' in opts) return new Client(new BackendTransport(opts.backend, opts.shutdown));
  if ('embedded' in opts) return connectEmbedded(opts.embedded);
  const socket = opts.socket ?? process.env.XLANE_SOCKET ?? DEFAULT_SOCKET;
  return new Client(await SocketTransport.connect({ ...opts, socket }));
}

/** The embedded mode runs the agent's own lane half (grant following, engine sync, acks) in this
 * process, without the kernel QoS and the Unix socket that only a host-wide daemon should own. */
async function connectEmbedded(o: EmbeddedOptions): Promise<Client> {
  const controller =
    typeof o.controller === 'string'
      ? new ControllerClient({ url: o.controller, ...(o.token !== undefined ? { token: o.token } : {}) })
      : o.controller;
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
  return new Client(new BackendTransport(agent, () => agent.close()));
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
