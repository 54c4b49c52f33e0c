// startController: the controller as a running service on a TCP address.
import { existsSync, rmSync } from 'node:fs';
import { isXlaneError, XlaneError } from '../errors.js';
import { buildApp, type ControllerOptions, DEFAULT_DB } from './app.js';
import type { WatchHub } from './hub.js';
import type { Lifecycle } from './lifecycle.js';
import { checkListenSafety, DEFAULT_LISTEN, parseListen } from './listen.js';
import type { App } from './routes/context.js';

export interface StartOptions extends ControllerOptions {
  /** HOST:PORT, default 127.0.0.1:7300; port 0 picks a free one. */
  listen?: string;
}

export interface RunningController {
  url: string;
  app: App;
  lifecycle: Lifecycle;
  hub: WatchHub;
  close(): Promise<void>;
}

/** A start that fails (no topology for a new file, the address taken) removes the state file it
 * created, so the next attempt starts as new; a file that was there before is never touched. */
export async function startController(opts: StartOptions): Promise<RunningController> {
  const addr = parseListen(opts.listen ?? DEFAULT_LISTEN);
  checkListenSafety(addr, opts.token);
  const dbPath = opts.store ? undefined : (opts.dbPath ?? DEFAULT_DB);
  const created = dbPath !== undefined && dbPath !== ':memory:' && !existsSync(dbPath) ? dbPath : undefined;
  let built: Awaited<ReturnType<typeof buildApp>>;
  try {
    built = await buildApp(opts);
  } catch (err) {
    // A lock held by another process means it created the file between our look and our open:
    // that controller's file, not ours to remove.
    if (created && !heldByAnother(err)) removeStoreFile(created);
    throw err;
  }
  try {
    await built.app.listen({ host: addr.host, port: addr.port });
  } catch (err) {
    await built.app.close();
    if (created) removeStoreFile(created);
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'address in use (another process listens there: stop it, or choose another --listen)'
        : (err as Error).message;
    throw new XlaneError('XL_ERR_VALIDATION', `cannot listen on ${addr.host}:${addr.port}: ${why}`, {
      host: addr.host,
      port: addr.port,
      cause: code,
    });
  }
  const bound = built.app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : addr.port;
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  return { ...built, url: `http://${host}:${port}`, close: () => built.app.close() };
}

/** The SQLite file with its WAL and shared-memory companions (closed stores leave none, but a
 * failed close might). */
function heldByAnother(err: unknown): boolean {
  const sqlite = isXlaneError(err) ? err.details?.sqlite : undefined;
  return (
    typeof sqlite === 'string' && (sqlite.startsWith('SQLITE_BUSY') || sqlite.startsWith('SQLITE_LOCKED'))
  );
}

function removeStoreFile(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(f, { force: true });
}
