// GET /metrics on a small loopback HTTP server; everything else is 404.
import { createServer } from 'node:http';
import type { Registry } from 'prom-client';
import { XlaneError } from '../../errors.js';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** `addr` is HOST:PORT (port 0: any free port). */
export async function startMetricsServer(addr: string, registry: Registry): Promise<MetricsServer> {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `--metrics wants HOST:PORT, e.g. 127.0.0.1:9464 (got "${addr}")`,
    );
  }
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new XlaneError(
          'XL_ERR_VALIDATION',
          `cannot listen on ${addr} for metrics: ${err.code ?? err.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound ? bound.port : port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}/metrics`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
