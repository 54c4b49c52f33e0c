// The serving half of a bench peer process (interference, fd): one JSON request per line on stdin,
// answered strictly in order on stdout; a failure becomes an `{op:'error'}` reply, never a crash;
// stdin closing (the orchestrator went away) ends the peer, so no process is left behind.
import { createInterface } from 'node:readline';
import { isXlaneError } from '../errors.js';

export function replyLine(r: object): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function errorReply(err: unknown) {
  return {
    op: 'error',
    code: isXlaneError(err) ? err.code : 'XL_ERR_INTERNAL',
    message: err instanceof Error ? err.message : String(err),
  };
}

/** Serves requests until 'stop' (answered, then exit 0) or the end of stdin (`close`, then exit 0). */
export function servePeer<Req extends { op: string }>(
  handle: (req: Req) => Promise<object>,
  close: () => Promise<void>,
  ready: object,
): void {
  let chain = Promise.resolve();
  createInterface({ input: process.stdin }).on('line', (line) => {
    chain = chain.then(async () => {
      try {
        const req = JSON.parse(line) as Req;
        replyLine(await handle(req));
        if (req.op === 'stop') process.exit(0);
      } catch (err) {
        replyLine(errorReply(err));
      }
    });
  });
  process.stdin.once('end', () => {
    void close().finally(() => process.exit(0));
  });
  replyLine(ready);
}

/** Runs a peer's main; a failure before serving is reported as an error reply and exit 1. */
export function runPeer(main: () => Promise<void>): void {
  main().catch((err) => {
    replyLine(errorReply(err));
    process.exit(1);
  });
}
