// Ctrl-C or SIGTERM while something is up (namespaces, processes, host settings): `undo` runs, then
// the process exits with the shell's status for that signal (130 / 143). Returns what removes the
// handlers once the work is done (call it in `finally`, where the normal path undoes things itself).
export function onExitSignal(undo: () => void): () => void {
  const handler = (sig: NodeJS.Signals) => {
    undo();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}
