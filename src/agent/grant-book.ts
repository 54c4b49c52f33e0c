// The agent's copy of the grants that concern its host, as the watch stream delivers them. A
// snapshot replaces everything (a reconnect is a resync); an update merges changed grants and drops
// removed lanes. Pure: the daemon decides what to do with the result.
import type { WireGrant } from '../controller/views.js';

export interface GrantBook {
  version: number;
  epoch: number;
  grants: ReadonlyMap<string, WireGrant>;
}

export interface SnapshotMessage {
  type: 'snapshot';
  version: number;
  epoch: number;
  grants: WireGrant[];
}

export interface UpdateMessage {
  type: 'update';
  version: number;
  epoch: number;
  grants: WireGrant[];
  removed: string[];
}

/** What changed between two books, for the events applications receive. */
export interface BookChange {
  /** New or changed grants (any field, state included). */
  changed: WireGrant[];
  /** Lanes no longer in the book. */
  removed: string[];
}

export const emptyBook = (): GrantBook => ({ version: 0, epoch: 0, grants: new Map() });

export function applySnapshot(_book: GrantBook, msg: SnapshotMessage): GrantBook {
  return { version: msg.version, epoch: msg.epoch, grants: new Map(msg.grants.map((g) => [g.laneId, g])) };
}

export function applyUpdate(book: GrantBook, msg: UpdateMessage): GrantBook {
  const grants = new Map(book.grants);
  for (const id of msg.removed) grants.delete(id);
  for (const g of msg.grants) grants.set(g.laneId, g);
  return { version: msg.version, epoch: msg.epoch, grants };
}

export function diffBooks(before: GrantBook, after: GrantBook): BookChange {
  const changed: WireGrant[] = [];
  for (const [id, g] of after.grants) {
    const old = before.grants.get(id);
    if (!old || JSON.stringify(old) !== JSON.stringify(g)) changed.push(g);
  }
  const removed = [...before.grants.keys()].filter((id) => !after.grants.has(id));
  return { changed, removed };
}

/** Finds a lane by id or by its unique name. */
export function findGrant(book: GrantBook, idOrName: string): WireGrant | undefined {
  const byId = book.grants.get(idOrName);
  if (byId) return byId;
  for (const g of book.grants.values()) if (g.name === idOrName) return g;
  return undefined;
}
