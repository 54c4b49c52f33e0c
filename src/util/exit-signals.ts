// The signals that stop a command halfway: Ctrl-C (SIGINT), `kill` (SIGTERM, also what service
// managers and timeouts send) and a closed terminal (SIGHUP). Without a listener each of these kills
// Node on the spot, skipping every cleanup, so whatever holds namespaces, processes or host settings
// listens to all three.
import { constants } from 'node:os';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** The shell's exit status for a process ended by `sig`: 128 + its number (130, 143, 129). */
export function exitStatusFor(sig: StopSignal): number {
  return 128 + constants.signals[sig];
}

/** Calls `handler` on each stop signal until the returned function removes it again. `on`, not
 * `once`: a second Ctrl-C while cleaning up must not kill the process before the cleanup is done. */
export function onStopSignals(handler: (sig: StopSignal) => void): () => void {
  const listeners = STOP_SIGNALS.map((sig) => [sig, () => handler(sig)] as const);
  for (const [sig, l] of listeners) process.on(sig, l);
  return () => {
    for (const [sig, l] of listeners) process.removeListener(sig, l);
  };
}

/** A stop signal while something is up: `undo` runs, then the process exits with the shell's status
 * for that signal. Returns what removes the handlers once the work is done (call it in `finally`,
 * where the normal path undoes things itself). */
export function onExitSignal(undo: () => void): () => void {
  return onStopSignals((sig) => {
    undo();
    process.exit(exitStatusFor(sig));
  });
}
