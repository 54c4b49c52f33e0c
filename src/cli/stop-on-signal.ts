// Long-running commands (controller, agent) stop the same way: the first SIGINT/SIGTERM closes the
// service gracefully (a second one is ignored while it closes), and the exit code says whether
// closing worked.
interface StopLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function stopOnSignal(what: string, log: StopLog, close: () => Promise<void>): void {
  let closing = false;
  const stop = (signal: string) => {
    if (closing) return;
    closing = true;
    log.info({ signal }, `${what} stopping`);
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
