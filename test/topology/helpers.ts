import { XlaneError } from '../../src/errors.js';
import type { TopologyErrorEntry } from '../../src/topology/issues.js';

/** A small valid topology written the way people write it; line numbers are used by the tests. */
export const BASE = `name: t
defaults:
  host: { nicRate: 1Gbit, sendLatency: { min: 5us, max: 50us }, recvLatency: 5us, buffer: 1MiB }
  switch: { forwardingLatency: 10us, portBuffer: 256KiB }
  link: { rate: 1Gbit, propagation: 100ns }
hosts:
  - name: h1
  - name: h2
  - name: h3
switches:
  - name: s1
links:
  - { a: h1, b: s1 }
  - { a: h2, b: s1 }
  - { a: h3, b: s1 }
`;

/** BASE with one exact substring replaced (fails loudly if the substring is not there). */
export function edit(find: string, replace: string, text = BASE): string {
  if (!text.includes(find)) throw new Error(`test setup: ${JSON.stringify(find)} not in the document`);
  return text.replace(find, replace);
}

export function thrown(fn: () => unknown): XlaneError {
  try {
    fn();
  } catch (err) {
    if (err instanceof XlaneError) return err;
    throw err;
  }
  throw new Error('expected an XlaneError, nothing was thrown');
}

export function entries(err: XlaneError): TopologyErrorEntry[] {
  return (err.details?.errors ?? []) as TopologyErrorEntry[];
}
