// Agent registration and the host list (registered / connected / acked version).
import { HostParams, RegisterBody } from '../schemas.js';
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
}
