// A stop signal while the demo without root runs: its controller holds a temporary state folder
// that only an (async) close removes, so onExitSignal (a sync undo) does not fit. The first signal
// closes, then exits with the shell's status for that signal; further signals while closing are
// ignored instead of killing the process half-way with the folder left.
import { exitStatusFor, onStopSignals } from '../util/exit-signals.js';

/** Installs the handlers; returns what removes them once the demo has closed by itself. */
export function closeOnExitSignal(
  close: () => Promise<void>,
  log: (line: string) => void = console.error,
): () => void {
  let closing = false;
  return onStopSignals((signal) => {
    if (closing) return;
    closing = true;
    log(`\n${signal}: closing the demo controller and removing its temporary state…`);
    close().then(
      () => process.exit(exitStatusFor(signal)),
      (err: unknown) => {
        log(`xlane: closing after ${signal} failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  });
}
