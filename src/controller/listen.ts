// The listen address: "host:port", "[v6]:port" or ":port". The controller hands out the right to
// send on the express class, so exposing it beyond loopback is an explicit operator decision.
import { isIP } from 'node:net';
import { XlaneError } from '../errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export const DEFAULT_LISTEN = '127.0.0.1:7300';

export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `bad listen address "${text}": expected HOST:PORT, e.g. ${DEFAULT_LISTEN}`,
    );
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Refuses a non-loopback address unless a token protects the mutating calls. */
export function checkListenSafety(addr: ListenAddress, token: string | undefined): void {
  if (!isLoopback(addr.host) && !token) {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `refusing to listen on ${addr.host} without a token: anyone reaching it could open lanes. ` +
        'Pass --token or --token-file (or set XLANE_TOKEN or XLANE_TOKEN_FILE), or listen on 127.0.0.1.',
      { host: addr.host },
    );
  }
}
