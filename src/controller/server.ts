// startController: the controller as a running service on a TCP address.
import { XlaneError } from '../errors.js';
import { buildApp, type ControllerOptions } from './app.js';
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

export async function startController(opts: StartOptions): Promise<RunningController> {
  const addr = parseListen(opts.listen ?? DEFAULT_LISTEN);
  checkListenSafety(addr, opts.token);
  const built = await buildApp(opts);
  try {
    await built.app.listen({ host: addr.host, port: addr.port });
  } catch (err) {
    await built.app.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `cannot listen on ${addr.host}:${addr.port}: ${code === 'EADDRINUSE' ? 'address in use' : (err as Error).message}`,
      { host: addr.host, port: addr.port, cause: code },
    );
  }
  const bound = built.app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : addr.port;
  const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
  return { ...built, url: `http://${host}:${port}`, close: () => built.app.close() };
}
