// connect(): the library's entry point. `{ socket }` reaches the host's agent over its Unix socket;
// `{ embedded }` runs an engine in this process (lowest latency, no agent needed on the host);
// `{ backend }` plugs any LocalBackend in (the agent uses it in-process; tests use a fake).
import { Agent, type AgentFdOptions } from '../agent/agent.js';
import type { LocalBackend } from '../agent/local-api/backend.js';
import { createJsEngine } from '../engine/js/engine.js';
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
  /** An Engine instance, or 'js' (default) for the TypeScript engine. */
  engine?: Engine | 'js';
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
  const engine = o.engine === undefined || o.engine === 'js' ? createJsEngine() : o.engine;
  const peers = o.peers instanceof Map ? o.peers : new Map(Object.entries(o.peers));
  const agent = await Agent.start({
    host: o.host,
    controller,
    engine,
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
