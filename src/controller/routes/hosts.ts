// Agent registration, the host list (registered / connected / acked version, bounds) and a host's
// measured send / receive bounds.
import { ForceQuery, HostLatencyBody, HostParams, RegisterBody } from '../schemas.js';
import type { App, RouteContext } from './context.js';

export function hostRoutes(app: App, { lifecycle }: RouteContext): void {
  app.post(
    '/v1/hosts/:name/register',
    {
      schema: { params: HostParams, body: RegisterBody },
      // An agent with nothing to say may register with an empty body.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request) => {
      const host = lifecycle.registerHost(request.params.name, request.body);
      return { host, version: host.version, epoch: lifecycle.epoch };
    },
  );

  app.get('/v1/hosts', async () => ({ hosts: lifecycle.hosts() }));

  app.put(
    '/v1/hosts/:name/latency',
    { schema: { params: HostParams, body: HostLatencyBody, querystring: ForceQuery } },
    async (request) => {
      const { sendLatency, recvLatency, measured } = request.body;
      return lifecycle.setHostBounds(
        request.params.name,
        { send: sendLatency, recv: recvLatency, ...(measured ? { measured } : {}) },
        request.query.force ?? false,
      );
    },
  );

  app.delete(
    '/v1/hosts/:name/latency',
    { schema: { params: HostParams, querystring: ForceQuery } },
    async (request) => lifecycle.clearHostBounds(request.params.name, request.query.force ?? false),
  );
}
