// GET /v1/watch?host=H: the WebSocket grant stream (protocol in ../hub.ts and docs/api.md).
import { XlaneError } from '../../errors.js';
import { WatchQuery } from '../schemas.js';
import type { App, RouteContext } from './context.js';

export function watchRoutes(app: App, { lifecycle, hub }: RouteContext): void {
  // Acks arrive here; the lifecycle retries those the store refused until the app closes.
  app.addHook('onClose', async () => lifecycle.close());
  app.route({
    method: 'GET',
    url: '/v1/watch',
    schema: { querystring: WatchQuery },
    // Refuse an unknown host before the upgrade, with a proper HTTP error.
    preHandler: async (request) => {
      if (request.query.host !== undefined) lifecycle.host(request.query.host);
    },
    handler: async () => {
      throw new XlaneError('XL_ERR_VALIDATION', '/v1/watch is a WebSocket: connect with an Upgrade request');
    },
    wsHandler: (socket, request) => hub.attach(socket, request.query.host),
  });
}
