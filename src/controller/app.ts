// buildApp composes the controller: store + allocator (through the lifecycle) + watch hub + the
// HTTP routes. Tests drive it with fastify's inject(); startController (server.ts) adds the listen.
import { readFileSync } from 'node:fs';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyServerOptions, LogController } from 'fastify';
import { createAllocator, restoreAllocator } from '../alloc/allocator.js';
import type { AllocatorOptions } from '../alloc/types.js';
import { XlaneError } from '../errors.js';
import { loadTopologyFile } from '../topology/load.js';
import type { TopologySpec } from '../topology/spec.js';
import { makeTokenCheck } from './auth.js';
import { errorHandler, notFoundHandler } from './http-errors.js';
import { WatchHub } from './hub.js';
import { type AllocatorFactory, Lifecycle } from './lifecycle.js';
import type { App } from './routes/context.js';
import { hostRoutes } from './routes/hosts.js';
import { laneRoutes } from './routes/lanes.js';
import { topologyRoutes } from './routes/topology.js';
import { watchRoutes } from './routes/watch.js';
import { openSqliteStore } from './sqlite-store.js';
import type { LaneStore } from './store.js';

export const BODY_LIMIT = 1024 * 1024;

export const XLANE_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export interface ControllerOptions {
  /** The topology, or the path of its YAML file. Needed when the store holds none yet; otherwise
   * the stored one (which the API may have replaced) wins and a difference is logged. */
  topology?: TopologySpec | string;
  /** SQLite file (default ./xlane.db); ':memory:' for a throw-away controller. */
  dbPath?: string;
  /** Alternative store (e.g. a replicated one); dbPath is then ignored. */
  store?: LaneStore;
  /** Bearer token required on POST/PUT/DELETE and the watch. */
  token?: string;
  logger?: FastifyServerOptions['logger'];
  heartbeatMs?: number;
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
  const topology = typeof opts.topology === 'string' ? loadTopologyFile(opts.topology) : opts.topology;
  const app = Fastify({
    logger: opts.logger ?? false,
    // The lifecycle logs one line per mutation; per-request lines would drown them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // A shutdown must not wait on idle keep-alive clients or half-open upgrades.
    forceCloseConnections: true,
    // Unknown fields are refused, not silently dropped (fastify's default strips them).
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const store = opts.store ?? openSqliteStore(opts.dbPath ?? './xlane.db');
  let lifecycle: Lifecycle;
  try {
    lifecycle = new Lifecycle(store, opts.allocatorFactory ?? realAllocators, {
      ...(topology ? { topology } : {}),
      ...(opts.allocator ? { allocator: opts.allocator } : {}),
      log: app.log,
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const hub = new WatchHub(
    lifecycle,
    opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {},
  );
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
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (_req, body, done) => done(null, body),
  );

  if (opts.token) {
    const check = makeTokenCheck(opts.token);
    app.addHook('onRequest', async (request) => {
      const mutating = request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS';
      if (mutating || request.url.startsWith('/v1/watch')) check(request.headers.authorization);
    });
  }
  // YAML is only understood where a route says so; anywhere else it is the wrong media type.
  app.addHook('preValidation', async (request) => {
    const yamlRoute = (request.routeOptions.config as { yaml?: boolean }).yaml === true;
    if (typeof request.body === 'string' && !yamlRoute) {
      throw new XlaneError(
        'XL_ERR_UNSUPPORTED_MEDIA_TYPE',
        `unsupported content-type ${request.headers['content-type']}: send application/json`,
      );
    }
  });

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
