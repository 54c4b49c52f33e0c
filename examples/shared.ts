// What the examples share and is not what they show: their command line, Ctrl-C, units. The
// lesson is in each example; this is plumbing a real application has its own version of.
import type { ConnectOptions } from 'xlane';

/** parseArgs options: where the example reaches xlane. */
export const connectionOptions = {
  controller: { type: 'string', default: process.env.XLANE_CONTROLLER || 'http://127.0.0.1:7300' },
  peers: { type: 'string', default: process.env.XLANE_PEERS || 'h1=127.0.0.1,h2=127.0.0.2' },
  socket: { type: 'string', default: process.env.XLANE_SOCKET || '' },
} as const;

/** Through the host's agent when a socket is given, else embedded as `host` (no agent needed). */
export function connectOptions(
  opt: { controller: string; peers: string; socket: string },
  host: string,
  embedded: Partial<Extract<ConnectOptions, { embedded: unknown }>['embedded']> = {},
): ConnectOptions {
  if (opt.socket) return { socket: opt.socket };
  return { embedded: { controller: opt.controller, host, peers: parsePeers(opt.peers), ...embedded } };
}

/** `h1=127.0.0.1,h2=127.0.0.2` → { h1: '127.0.0.1', h2: '127.0.0.2' } */
export function parsePeers(text: string): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const [name, address] = pair.split('=').map((s) => s.trim());
    if (!name || !address) throw new Error(`--peers: expected host=address,…, got "${pair}"`);
    peers[name] = address;
  }
  return peers;
}

export function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what} must be a positive integer, not "${text}"`);
  return n;
}

/** Aborted by Ctrl-C or SIGTERM, so the example stops and closes its client (which releases its
 * lanes). A second one while close() still waits for a controller that does not answer leaves at
 * once: an embedded client's lane record lets the next start for this host release the lanes. */
export function stopOnSignals(log: (msg: string) => void): AbortController {
  const stop = new AbortController();
  let interrupts = 0;
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      if (++interrupts > 1) process.exit(130);
      log(`${sig}: stopping`);
      stop.abort();
    });
  return stop;
}

export const us = (ns: number) => (ns / 1000).toFixed(1);
export const ms = (ns: number) => (ns / 1e6).toFixed(1);
