// Lanes: open (optionally long-polling until live), list, read, close; and the grants of a host.
import type { ServerResponse } from 'node:http';
import { HostQuery, LaneIdParams, LaneRequestBody, OpenLaneQuery } from '../schemas.js';
import type { App, RouteContext } from './context.js';

const DEFAULT_WAIT_MS = 10_000;

export function laneRoutes(app: App, { lifecycle }: RouteContext): void {
  app.post(
    '/v1/lanes',
    { schema: { body: LaneRequestBody, querystring: OpenLaneQuery } },
    async (request, reply) => {
      const result = lifecycle.openLane(request.body);
      let lane = result.lane;
      if (request.query.wait === 'live' && lane.state !== 'live') {
        lane = await lifecycle.waitLive(
          lane.id,
          request.query.timeoutMs ?? DEFAULT_WAIT_MS,
          abortedByClient(reply.raw),
        );
      }
      return reply.status(201).send({ lane, changed: result.changed });
    },
  );

  app.get('/v1/lanes', async () => ({ epoch: lifecycle.epoch, lanes: lifecycle.listLanes() }));

  app.get('/v1/lanes/:id', { schema: { params: LaneIdParams } }, async (request) => ({
    lane: lifecycle.getLane(request.params.id),
  }));

  app.delete('/v1/lanes/:id', { schema: { params: LaneIdParams } }, async (request) =>
    lifecycle.closeLane(request.params.id),
  );

  app.get('/v1/grants', { schema: { querystring: HostQuery } }, async (request) =>
    lifecycle.grantsFor(request.query.host),
  );
}

/** Aborts when the connection closes before the answer was sent: a client that gave up (Ctrl-C,
 * its own timeout) would otherwise keep its wait, and what it holds, for up to 300 s. */
function abortedByClient(res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}
