// Health, topology (read, replace, remove a host or a link) and port load.
import { AGENT_PROTOCOLS, CONTROL_PROTOCOL } from '../../control-protocol.js';
import { XlaneError } from '../../errors.js';
import { parseTopology, topologyToYaml, validateTopologySpec } from '../../topology/load.js';
import { ForceQuery, HostParams, LinkParams, TopologyBody, TopologyQuery } from '../schemas.js';
import { withoutHost, withoutLink } from '../topology-edit.js';
import type { App, RouteContext } from './context.js';

export function topologyRoutes(app: App, { lifecycle, version }: RouteContext): void {
  app.get('/v1/health', async () => ({
    status: 'ok',
    epoch: lifecycle.epoch,
    version,
    protocol: CONTROL_PROTOCOL,
    agentProtocols: { min: AGENT_PROTOCOLS.min, max: AGENT_PROTOCOLS.max },
    lanes: lifecycle.laneCount,
    hosts: lifecycle.topology.hosts.length,
    agents: lifecycle.agentVersions(),
  }));

  app.get('/v1/topology', { schema: { querystring: TopologyQuery } }, async (request, reply) => {
    if (request.query.format !== 'yaml') return lifecycle.topology;
    return reply.type('application/yaml').send(topologyToYaml(lifecycle.topology));
  });

  app.put(
    '/v1/topology',
    { schema: { body: TopologyBody, querystring: ForceQuery }, config: { yaml: true } },
    async (request) => {
      const body = request.body;
      let spec: ReturnType<typeof validateTopologySpec>;
      if (typeof body === 'string') {
        if (!isYaml(request.headers['content-type'])) {
          throw new XlaneError(
            'XL_ERR_VALIDATION',
            'body: expected a topology object (or YAML text as application/yaml)',
          );
        }
        spec = parseTopology(body, 'request body');
      } else {
        spec = validateTopologySpec(body, 'request body');
      }
      return lifecycle.replaceTopology(spec, request.query.force ?? false);
    },
  );

  app.delete(
    '/v1/topology/hosts/:name',
    { schema: { params: HostParams, querystring: ForceQuery } },
    async (request) =>
      lifecycle.replaceTopology(
        withoutHost(lifecycle.topology, request.params.name),
        request.query.force ?? false,
      ),
  );

  app.delete(
    '/v1/topology/links/:a/:b',
    { schema: { params: LinkParams, querystring: ForceQuery } },
    async (request) =>
      lifecycle.replaceTopology(
        withoutLink(lifecycle.topology, request.params.a, request.params.b),
        request.query.force ?? false,
      ),
  );

  app.get('/v1/ports', async () => ({ epoch: lifecycle.epoch, ports: lifecycle.ports() }));
}

export function isYaml(contentType: string | undefined): boolean {
  return /^\s*(application\/(x-)?yaml|text\/yaml)\b/i.test(contentType ?? '');
}
