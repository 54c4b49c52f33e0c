// The agent's local API: a Unix socket (mode 0660, so only the agent's user and group reach it)
// serving LocalSession per connection. A stale socket file left by a crashed agent is replaced;
// a live one (another agent answers) or a non-socket file at the path is refused, never deleted.
// A connection whose unsent replies pass highWaterBytes is not read from until they drained
// (LocalSession.reply says why pausing rather than closing).
import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { XlaneError } from '../../errors.js';
import type { LocalBackend } from './backend.js';
import { DEFAULT_MAX_FRAME_BYTES } from './frames.js';
import { LocalSession } from './session.js';

export interface LocalApiOptions {
  socketPath: string;
  backend: LocalBackend;
  maxFrameBytes?: number;
  /** Socket file mode; default 0o660. */
  mode?: number;
  /** Per-connection write backlog above which deliveries are dropped and the connection's input is
   * paused until it drained (default 4 MiB). */
  highWaterBytes?: number;
}

export interface LocalApi {
  readonly socketPath: string;
  /** Live connections. */
  connections(): number;
  /** Stops accepting, ends every connection (closing their lanes) and removes the socket file. */
  close(): Promise<void>;
}

export async function startLocalApi(opts: LocalApiOptions): Promise<LocalApi> {
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  await clearStaleSocket(opts.socketPath);
  const sessions = new Map<Socket, LocalSession>();
  const pendingCloses = new Set<Promise<void>>();

  const server = createServer((socket) => {
    let paused = false;
    const session = new LocalSession(
      opts.backend,
      {
        write: (frame) => {
          if (!socket.destroyed) socket.write(frame);
        },
        backlog: () => socket.writableLength,
        end: () => socket.end(),
        pauseInput: () => {
          // Only once a write asked for 'drain' (backlog at the socket's own high-water mark):
          // otherwise no 'drain' would come to resume it.
          if (paused || socket.destroyed || !socket.writableNeedDrain) return;
          paused = true;
          socket.pause();
          socket.once('drain', () => {
            paused = false;
            socket.resume();
          });
        },
      },
      { maxFrameBytes, highWaterBytes: opts.highWaterBytes ?? 4 * 1024 * 1024 },
    );
    sessions.set(socket, session);
    socket.on('data', (chunk) => session.data(chunk));
    // A client that vanishes mid-write is ordinary: its lanes are closed on 'close'.
    socket.on('error', () => {});
    socket.on('close', () => {
      sessions.delete(socket);
      const p = session.closed().finally(() => pendingCloses.delete(p));
      pendingCloses.add(p);
    });
  });

  const mode = opts.mode ?? 0o660;
  await listen(server, opts.socketPath, mode);
  // Already created with this mode (listen); again in case the umask could not be set.
  await chmod(opts.socketPath, mode);

  return {
    socketPath: opts.socketPath,
    connections: () => sessions.size,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions.keys()) s.destroy();
      await closed;
      await Promise.allSettled([...pendingCloses]);
      await unlink(opts.socketPath).catch(() => {});
    },
  };
}

/** The socket file is born with `mode`: a chmod after listen would leave it, for a moment, open to
 * whoever the process umask lets in. The umask is process-wide, but bind(2) happens inside
 * server.listen() itself, so it is restored before any other code runs. */
function listen(server: Server, path: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new XlaneError('XL_ERR_FILE', `cannot listen on ${path}: ${err.code ?? err.message}`, { path })),
    );
    let saved: number | undefined;
    try {
      saved = process.umask(0o777 & ~mode);
    } catch {
      // A worker thread may not set the umask: the chmod after listen is all there is there.
    }
    try {
      server.listen(path, () => resolve());
    } finally {
      if (saved !== undefined) process.umask(saved);
    }
  });
}

async function clearStaleSocket(path: string): Promise<void> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new XlaneError('XL_ERR_FILE', `${path} exists and is not a socket; refusing to replace it`, {
      path,
    });
  }
  if (await answers(path)) {
    throw new XlaneError(
      'XL_ERR_DUPLICATE',
      `another process is serving ${path} (is an agent already running?)`,
      {
        path,
      },
    );
  }
  await unlink(path);
}

/** True when something accepts connections on the socket (a live server, not a stale file). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
