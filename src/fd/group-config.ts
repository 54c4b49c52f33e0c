// Which groups this host's X-FD runs, and how their lanes are recognised. A member's heartbeat lane
// is named `xfd.<group>.<sender>` (the controller keeps lane names unique, so there is exactly one
// per member and group, and a restarted agent finds and re-adopts its own). The name is only a
// claim: a lane counts as a member's FD lane when its sender IS that member, the group is one this
// host runs with that member in it, and this host is among its receivers.
import type { Grant } from '../alloc/types.js';
import { XlaneError } from '../errors.js';

export const FD_LANE_PREFIX = 'xfd.';

export interface FdGroupConfig {
  name: string;
  /** Every member host, this one included. */
  members: string[];
}

/** A group as `--fd` names it: without members, every host of the topology is one. */
export interface FdGroupSpec {
  name: string;
  members?: string[];
}

/** No dots (the lane name is split on them); the controller's lane-name alphabet otherwise. */
const GROUP_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;

export function fdLaneName(group: string, host: string): string {
  return `${FD_LANE_PREFIX}${group}.${host}`;
}

/** `{group, host}` of a name shaped like an FD lane's, else undefined. */
export function parseFdLaneName(name: string | undefined): { group: string; host: string } | undefined {
  if (!name?.startsWith(FD_LANE_PREFIX)) return undefined;
  const rest = name.slice(FD_LANE_PREFIX.length);
  const dot = rest.indexOf('.');
  if (dot <= 0) return undefined;
  const group = rest.slice(0, dot);
  const host = rest.slice(dot + 1);
  return GROUP_RE.test(group) && HOST_RE.test(host) ? { group, host } : undefined;
}

/** Parses `GROUP` or `GROUP=h1,h2,h3` (the agent's --fd option). */
export function parseFdGroup(text: string): FdGroupSpec {
  const eq = text.indexOf('=');
  const name = (eq < 0 ? text : text.slice(0, eq)).trim();
  const bad = (why: string) =>
    new XlaneError(
      'XL_ERR_VALIDATION',
      `--fd ${JSON.stringify(text)}: ${why} (expected GROUP or GROUP=h1,h2,h3)`,
      { fd: text },
    );
  if (!GROUP_RE.test(name)) throw bad(`group name "${name}" must be 1-64 of A-Z a-z 0-9 _ - (no dots)`);
  if (eq < 0) return { name };
  const members = text
    .slice(eq + 1)
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (members.length === 0) throw bad('no members after "="');
  const badHost = members.find((m) => !HOST_RE.test(m));
  if (badHost !== undefined) throw bad(`"${badHost}" is not a host name`);
  const dup = members.find((m, i) => members.indexOf(m) !== i);
  if (dup !== undefined) throw bad(`${dup} is listed twice`);
  return { name, members };
}

/** The groups with their members: a group named without members has every host of the topology. */
export function resolveFdGroups(
  groups: readonly FdGroupSpec[],
  topologyHosts: readonly string[],
): FdGroupConfig[] {
  return groups.map((g) => ({ name: g.name, members: g.members ? [...g.members] : [...topologyHosts] }));
}

/** Checks a set of groups for one host: unique names, and the host is a member of each. */
export function validateGroups(host: string, groups: readonly FdGroupSpec[]): void {
  const seen = new Set<string>();
  for (const g of groups) {
    if (seen.has(g.name)) {
      throw new XlaneError('XL_ERR_VALIDATION', `failure-detector group ${g.name} is given twice`, {
        group: g.name,
      });
    }
    seen.add(g.name);
    if (g.members && !g.members.includes(host)) {
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `failure-detector group ${g.name} (${g.members.join(',')}) does not include this host ${host}`,
        { group: g.name, host },
      );
    }
  }
}

export type FdLaneRole =
  | { role: 'sender'; group: string }
  | { role: 'receiver'; group: string; member: string }
  | { role: 'none' }
  /** Named like an FD lane of one of our groups, but does not qualify; `why` says what is wrong. */
  | { role: 'invalid'; group: string; why: string };

/** What a grant is to this host's failure detector. */
export function classifyFdLane(
  grant: Pick<Grant, 'name' | 'sender' | 'receivers'>,
  host: string,
  groups: ReadonlyMap<string, FdGroupConfig>,
): FdLaneRole {
  const parsed = parseFdLaneName(grant.name);
  if (!parsed) return { role: 'none' };
  const group = groups.get(parsed.group);
  if (!group) return { role: 'none' };
  if (parsed.host !== grant.sender) {
    return {
      role: 'invalid',
      group: group.name,
      why: `named for ${parsed.host} but sent by ${grant.sender}`,
    };
  }
  if (!group.members.includes(grant.sender)) {
    return { role: 'invalid', group: group.name, why: `${grant.sender} is not a member here` };
  }
  if (grant.sender === host) return { role: 'sender', group: group.name };
  if (grant.receivers.some((r) => r.host === host)) {
    return { role: 'receiver', group: group.name, member: grant.sender };
  }
  return { role: 'none' };
}
