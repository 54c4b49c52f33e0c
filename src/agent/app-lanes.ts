// The lanes local applications opened through this agent, kept in a file next to the socket
// (`<socket>.app-lanes`). A lane belongs to the connection that opened it and is closed when that
// connection ends; but a killed agent ends no connection cleanly, and the controller keeps such a
// lane admitted (and its share of the express class reserved) with no application left to use it.
// The next agent on the host reads the file: every lane in it belonged to a connection of a process
// that is gone, so it releases them (Agent.trackAppLanes). Lanes the agent opens for itself (the
// failure detector's) never enter the file. The embedded client keeps one such file per process
// (client/lane-records.ts), with a header saying whose it is.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AgentLog } from './log.js';

export interface AppLaneEntry {
  id: string;
  /** The controller's createdAt of the lane: lane ids may be handed out again by a controller that
   * lost its state, and a lane by the same id opened since must not be closed. */
  createdAt: string;
}

/** Where an agent records its applications' lanes: the daemon's file, or an embedded client's. */
export interface AppLaneStore {
  /** The lanes that earlier runs left, for this agent to release (they are recorded in this store
   * from now on, until released). */
  load(): AppLaneEntry[];
  add(entry: AppLaneEntry): void;
  remove(id: string): void;
  removeEntry(entry: AppLaneEntry): void;
  /** The agent stops: what the store still lists is left for the next run. */
  close?(): void;
}

export class AppLaneFile implements AppLaneStore {
  private readonly lanes = new Map<string, AppLaneEntry>();

  constructor(
    readonly path: string,
    private readonly log: AgentLog,
    /** Written before the lanes on every save (the embedded client's owner record). */
    private readonly header: () => Record<string, unknown> = () => ({}),
  ) {}

  /** The lanes a previous run left (then the file is this run's: the caller releases them). A file
   * that cannot be read or parsed is reported and treated as empty: it must not stop the agent. */
  load(): AppLaneEntry[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log.warn({ path: this.path, err: (err as Error).message }, 'cannot read the app-lanes file');
      return [];
    }
    try {
      const parsed = JSON.parse(text) as { lanes?: unknown };
      const list = Array.isArray(parsed.lanes) ? parsed.lanes : [];
      const out = list.filter(
        (e): e is AppLaneEntry =>
          typeof (e as AppLaneEntry)?.id === 'string' && typeof (e as AppLaneEntry)?.createdAt === 'string',
      );
      for (const e of out) this.lanes.set(e.id, e);
      return out;
    } catch {
      this.log.warn({ path: this.path }, 'the app-lanes file is not JSON: ignoring it');
      return [];
    }
  }

  add(entry: AppLaneEntry): void {
    this.lanes.set(entry.id, entry);
    this.save();
  }

  remove(id: string): void {
    if (this.lanes.delete(id)) this.save();
  }

  /** Removes a previous run's entry, unless this run has since recorded a new lane by that id. */
  removeEntry(entry: AppLaneEntry): void {
    if (this.lanes.get(entry.id)?.createdAt === entry.createdAt) this.remove(entry.id);
  }

  /** The lane ids recorded now. */
  ids(): string[] {
    return [...this.lanes.keys()];
  }

  /** Written whole and renamed into place, so a crash mid-write leaves the old list, never half of
   * one. Opens and closes are rare (never per message), so a synchronous write is fine here. */
  save(): void {
    const tmp = `${this.path}.tmp`;
    try {
      const body = { ...this.header(), lanes: [...this.lanes.values()] };
      writeFileSync(tmp, `${JSON.stringify(body)}\n`, { mode: 0o600 });
      renameSync(tmp, this.path);
    } catch (err) {
      this.log.warn(
        { path: this.path, err: (err as Error).message },
        'cannot write the app-lanes file: a crash now would leave these lanes open at the controller',
      );
    }
  }
}
