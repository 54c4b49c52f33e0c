// The per-host fan-out of one mutation: which grants and which removals each host's watch stream
// must carry. A host appears once per mutation, so it gets exactly one new version.
import type { Grant } from '../alloc/types.js';
import { hostsOf } from './concern.js';
import type { WireGrant } from './views.js';

/** Accumulates, per host, the grants and removals one mutation pushes. */
export class ChangeSet {
  readonly grants = new Map<string, Map<string, WireGrant>>();
  readonly removed = new Map<string, Set<string>>();

  addGrant(grant: WireGrant, extraHosts: string[] = []): void {
    for (const h of new Set([...hostsOf(grant), ...extraHosts])) {
      const m = this.grants.get(h) ?? new Map<string, WireGrant>();
      this.grants.set(h, m);
      m.set(grant.laneId, grant);
    }
  }

  addRemoved(grant: Grant): void {
    for (const h of hostsOf(grant)) {
      const s = this.removed.get(h) ?? new Set<string>();
      this.removed.set(h, s);
      s.add(grant.laneId);
      this.grants.get(h)?.delete(grant.laneId);
    }
  }

  hosts(): Set<string> {
    return new Set([...this.grants.keys(), ...this.removed.keys()]);
  }
}
