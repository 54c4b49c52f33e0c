// Agent registration, the host list (registered / connected / acked version, bounds) and a host's
// measured send / receive bounds.
import { AGENT_PROTOCOLS, protocolRefusal } from '../../control-protocol.js';
import { ForceQuery, HostLatencyBody, HostParams, RegisterBody } from '../schemas.js';
import type { App, RouteContext } from './context.js';

/** A fleet of agents a release ahead of the controller retries every few seconds each: one line
 * per interval, with the count since, says it without drowning the log. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

export function hostRoutes(app: App, { lifecycle }: RouteContext): void {
  let refusalLoggedAt = Number.NEGATIVE_INFINITY;
  let refusedSince = 0;

  app.post(
    '/v1/hosts/:name/register',
    {
      schema: { params: HostParams, body: RegisterBody },
      preValidation: async (request) => {
        // An agent with nothing to say may register with an empty body.
        if (request.body === undefined || request.body === null) request.body = {};
        // Before the schema: an agent of another protocol may send a body this one does not
        // describe, and what it needs to hear is which side to upgrade, not which field is wrong.
        const { protocol, agentVersion } = request.body as { protocol?: unknown; agentVersion?: unknown };
        if (!Number.isSafeInteger(protocol)) return;
        const name = (request.params as { name: string }).name;
        const refusal = protocolRefusal(
          name,
          {
            protocol: protocol as number,
            ...(typeof agentVersion === 'string' ? { agentVersion } : {}),
          },
          AGENT_PROTOCOLS,
        );
        if (!refusal) return;
        refusedSince++;
        const now = Date.now();
        if (now - refusalLoggedAt >= REFUSAL_LOG_INTERVAL_MS) {
          request.log.warn({ ...refusal.details, refused: refusedSince }, refusal.message);
          refusalLoggedAt = now;
          refusedSince = 0;
        }
        throw refusal;
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
