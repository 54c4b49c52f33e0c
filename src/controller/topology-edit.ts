// Pure edits of a topology spec, behind the DELETE /v1/topology/hosts|links convenience routes:
// they build a new spec and go through the same replaceTopology as a PUT, so a removal re-computes.
import { XlaneError } from '../errors.js';
import type { TopologySpec } from '../topology/spec.js';

export function withoutHost(spec: TopologySpec, name: string): TopologySpec {
  if (!spec.hosts.some((h) => h.name === name)) {
    throw new XlaneError('XL_ERR_UNKNOWN_HOST', `no host ${name} in topology ${spec.name}`, { host: name });
  }
  return {
    ...spec,
    hosts: spec.hosts.filter((h) => h.name !== name),
    links: spec.links.filter((l) => l.a !== name && l.b !== name),
  };
}

export function withoutLink(spec: TopologySpec, a: string, b: string): TopologySpec {
  const matches = (l: { a: string; b: string }) => (l.a === a && l.b === b) || (l.a === b && l.b === a);
  if (!spec.links.some(matches)) {
    throw new XlaneError('XL_ERR_NOT_FOUND', `no link ${a}–${b} in topology ${spec.name}`, { a, b });
  }
  return { ...spec, links: spec.links.filter((l) => !matches(l)) };
}
