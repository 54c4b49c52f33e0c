// buildApp composes the controller: store + allocator (through the lifecycle) + watch hub + the
// HTTP routes. Tests drive it with fastify's inject(); startController (server.ts) adds the listen.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import { createAllocator, restoreAllocator } from '../alloc/allocator.js';
import type { AllocatorOptions } from '../alloc/types.js';
import { PACKAGE_VERSION } from '../control-protocol.js';
import { isXlaneError, XlaneError } from '../errors.js';
import { loadTopologyFile } from '../topology/load.js';
import type { TopologySpec } from '../topology/spec.js';
import { makeTokenCheck } from './auth.js';
import { clientErrorHandler, errorHandler, notFoundHandler } from './http-errors.js';
import { WatchHub } from './hub.js';
import { type AllocatorFactory, Lifecycle, type LifecycleOptions } from './lifecycle.js';
import type { App } from './routes/context.js';
import { hostRoutes } from './routes/hosts.js';
import { laneRoutes } from './routes/lanes.js';
import { topologyRoutes } from './routes/topology.js';
import { watchRoutes } from './routes/watch.js';
import { openSqliteStore } from './sqlite-store.js';
import type { LaneStore } from './store.js';

export const BODY_LIMIT = 1024 * 1024;
export const DEFAULT_DB = './xlane.db';
/** As Node's own headersTimeout: the headers alone already had to arrive within 60 s. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export const XLANE_VERSION = PACKAGE_VERSION;

export interface ControllerOptions {
  /** The topology, or the path of its YAML file. Needed when the store holds none yet; otherwise
   * the stored one (which the API may have replaced) wins and a difference is logged, as is a file
   * that is missing or does not parse. */
  topology?: TopologySpec | string;
  /** SQLite file (default ./xlane.db); ':memory:' for a throw-away controller. */
  dbPath?: string;
  /** Alternative store (e.g. a replicated one); dbPath is then ignored. */
  store?: LaneStore;
  /** Bearer token required on POST/PUT/DELETE and the watch. */
  token?: string;
  logger?: FastifyServerOptions['logger'];
  heartbeatMs?: number;
  /** Time a client has to send a whole request, headers and body (default 60 s); then 408. */
  requestTimeoutMs?: number;
  /** Unsent bytes a watch socket may hold before it is closed (hub.ts; default 8 MiB). */
  watchMaxBufferedBytes?: number;
  /** A watch socket without a valid hello this long after it opened is closed (hub.ts; default 10 s). */
  watchHelloTimeoutMs?: number;
  /** Watch sockets that said hello for one host; one more closes the oldest (hub.ts; default 4). */
  watchMaxPerHost?: number;
  allocator?: AllocatorOptions;
  allocatorFactory?: AllocatorFactory;
}

export const realAllocators: AllocatorFactory = { create: createAllocator, restore: restoreAllocator };

export interface BuiltApp {
  app: App;
  lifecycle: Lifecycle;
  hub: WatchHub;
}

export async function buildApp(opts: ControllerOptions): Promise<BuiltApp> {
  let topology: TopologySpec | undefined;
  let topologyFileError: LifecycleOptions['topologyFileError'];
  if (typeof opts.topology === 'string') {
    try {
      topology = loadTopologyFile(opts.topology);
    } catch (err) {
      // Whether the file is needed is known only once the store is open: a controller whose store
      // holds a topology must not be kept from starting by a file it would not use.
      if (!isXlaneError(err)) throw err;
      topologyFileError = { file: opts.topology, error: err };
    }
  } else topology = opts.topology;
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    logger: opts.logger ?? false,
    // The lifecycle logs one line per mutation; per-request lines would drown them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // A shutdown must not wait on idle keep-alive clients or half-open upgrades.
    forceCloseConnections: true,
    // fastify turns Node's request timeout off: a client that stops (or vanishes) in the middle of
    // sending a body then holds its socket forever. The timeout covers receiving the request, not
    // answering it (a ?wait=live long poll is unaffected). Node checks every half of it, at most
    // 30 s, and swaps the two timeouts when the headers' one is the longer.
    requestTimeout,
    http: {
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(requestTimeout / 2)),
      headersTimeout: Math.min(60_000, requestTimeout),
    },
    // Unknown fields are refused, not silently dropped (fastify's default strips them). Nothing is
    // coerced: fastify's default would take "h2" for ["h2"], true for 1 and null for 0 in a body.
    // Ajv's coercion is one switch for every part of a request; separate compilers per part
    // (setValidatorCompiler) would need Ajv instances of our own, a dependency we do not declare.
    // Querystrings are text by nature: coerceQuery below converts their few non-string values.
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: false } },
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  const store = opts.store ?? openSqliteStore(opts.dbPath ?? DEFAULT_DB);
  let lifecycle: Lifecycle;
  try {
    lifecycle = new Lifecycle(store, opts.allocatorFactory ?? realAllocators, {
      ...(topology ? { topology } : {}),
      ...(topologyFileError ? { topologyFileError } : {}),
      ...(opts.allocator ? { allocator: opts.allocator } : {}),
      log: app.log,
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const hub = new WatchHub(lifecycle, {
    log: app.log,
    ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
    ...(opts.watchMaxBufferedBytes !== undefined ? { maxBufferedBytes: opts.watchMaxBufferedBytes } : {}),
    ...(opts.watchHelloTimeoutMs !== undefined ? { helloTimeoutMs: opts.watchHelloTimeoutMs } : {}),
    ...(opts.watchMaxPerHost !== undefined ? { maxPerHost: opts.watchMaxPerHost } : {}),
  });
  app.addHook('onClose', async () => {
    hub.close();
    store.close();
  });

  // First: its onRequest hook marks upgrade requests, and its onResponse hook destroys the raw
  // socket of an upgrade answered with an error (e.g. our 401), which must run even then.
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // YAML is only understood where a route says so; anywhere else it is the wrong media type.
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (request, body, done) => {
      if ((request.routeOptions.config as { yaml?: boolean }).yaml === true) return done(null, body);
      done(
        new XlaneError(
          'XL_ERR_UNSUPPORTED_MEDIA_TYPE',
          `unsupported content-type ${request.headers['content-type']}: send application/json`,
        ),
        undefined,
      );
    },
  );
  app.addHook('preValidation', coerceQuery);

  if (opts.token) {
    const check = makeTokenCheck(opts.token);
    app.addHook('onRequest', async (request) => {
      const mutating = request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS';
      if (mutating || request.url.startsWith('/v1/watch')) check(request.headers.authorization);
    });
  }

  const ctx = { lifecycle, hub, version: XLANE_VERSION };
  await app.register(async (scope) => {
    topologyRoutes(scope, ctx);
    laneRoutes(scope, ctx);
    hostRoutes(scope, ctx);
    watchRoutes(scope, ctx);
  });
  await app.ready();
  return { app, lifecycle, hub };
}

/** JSON.parse keeps a "__proto__" key as a plain property, but code that later copies the object
 * with Object.assign or a merge would set a prototype from it: such bodies are refused, as by
 * fastify's default parser, but with a message that says why (fastify's: "not valid JSON"). */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) {
    throw new XlaneError('XL_ERR_BAD_JSON', 'body is empty, but content-type is application/json');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new XlaneError('XL_ERR_BAD_JSON', `body is not valid JSON: ${(err as Error).message}`);
  }
  // Iterative: a deeply nested body must not overflow the stack.
  const unvisited: [unknown, string][] = [[value, 'body']];
  for (let next = unvisited.pop(); next; next = unvisited.pop()) {
    const [v, path] = next;
    if (typeof v !== 'object' || v === null) continue;
    for (const [k, child] of Object.entries(v)) {
      const poison =
        k === '__proto__' ||
        (k === 'constructor' &&
          typeof child === 'object' &&
          child !== null &&
          Object.hasOwn(child, 'prototype'));
      if (poison) {
        throw new XlaneError(
          'XL_ERR_VALIDATION',
          `${path}/${k}: a __proto__ key (or constructor.prototype) is not allowed`,
          { path: `${path}/${k}` },
        );
      }
      unvisited.push([child, `${path}/${k}`]);
    }
  }
  return value;
}

/** Converts the querystring values a route's schema types as boolean or number, exactly where
 * the text is one ("true", "false", a finite number); anything else stays text and fails the
 * schema with its expected type. */
async function coerceQuery(request: FastifyRequest): Promise<void> {
  const schema = request.routeOptions.schema?.querystring as
    | { properties?: Record<string, { type?: unknown }> }
    | undefined;
  const props = schema?.properties;
  if (!props || typeof request.query !== 'object' || request.query === null) return;
  const query = request.query as Record<string, unknown>;
  for (const [key, text] of Object.entries(query)) {
    if (typeof text !== 'string' || !Object.hasOwn(props, key)) continue;
    const type = props[key]?.type;
    if (type === 'boolean' && (text === 'true' || text === 'false')) query[key] = text === 'true';
    else if (
      (type === 'integer' || type === 'number') &&
      text.trim() !== '' &&
      Number.isFinite(Number(text))
    ) {
      query[key] = Number(text);
    }
  }
}
