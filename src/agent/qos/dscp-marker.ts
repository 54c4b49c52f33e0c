// Keeps the kernel's DSCP marking of lane frames (dscp-mark.ts) equal to the desired one through
// the `nft` binary, behind NftRunner so unit tests run a fake. Reconciles like TcManager: read,
// compare, write only on a difference, so calling it after every grant change and on the QoS
// timer costs one `nft list` when nothing changed, and repairs a table someone deleted.
import { execFile } from 'node:child_process';
import { XlaneError } from '../../errors.js';
import { type DscpMarking, MARK_TABLE, markingScript, parseMarking, sameMarking } from './dscp-mark.js';

export interface NftRunner {
  /** Runs `nft ARGS…` with `input` on stdin; rejects with XL_ERR_KERNEL (details.missing = 'nft'
   * when the binary is not installed, details.noSuchTable when the listed table does not exist). */
  run(args: readonly string[], input?: string): Promise<string>;
}

export interface ExecNftOptions {
  /** Run inside this network namespace (`ip netns exec NS nft …`). */
  netns?: string;
  nftPath?: string;
  timeoutMs?: number;
}

export function execNftRunner(opts: ExecNftOptions = {}): NftRunner {
  const nft = opts.nftPath ?? 'nft';
  const [bin, prefix] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, nft]] : [nft, []];
  return {
    run(args, input) {
      const argv = [...prefix, ...args];
      return new Promise((resolve, reject) => {
        const child = execFile(bin, argv, { timeout: opts.timeoutMs ?? 10_000 }, (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const why = String(stderr).trim() || err.message;
          const missing = (err as NodeJS.ErrnoException).code === 'ENOENT' || /nft.*No such file/.test(why);
          reject(
            new XlaneError(
              'XL_ERR_KERNEL',
              missing
                ? 'nft is not installed (Debian package nftables): lane frames cannot be DSCP-marked'
                : `nft ${args.join(' ')}: ${why}`,
              {
                command: [bin, ...argv],
                stderr: String(stderr),
                ...(missing ? { missing: 'nft' } : {}),
                ...(/No such file or directory/.test(why) && !missing ? { noSuchTable: true } : {}),
              },
            ),
          );
        });
        // nft exits without reading stdin for `list`, or on an early error: a write after that is
        // EPIPE on the pipe, which must not become an uncaught error (the exit status tells).
        child.stdin?.on('error', () => {});
        child.stdin?.end(input);
      });
    },
  };
}

export class DscpMarker {
  private last: DscpMarking | undefined;

  constructor(private readonly nft: NftRunner) {}

  /** The marking in the kernel now; `null` when our table holds something else. */
  async observe(): Promise<DscpMarking | null> {
    try {
      return parseMarking(await this.nft.run(['-n', '-j', 'list', 'table', 'ip', MARK_TABLE]));
    } catch (err) {
      if (err instanceof XlaneError && err.details?.noSuchTable) return { dscp: 0, ports: [] };
      throw err;
    }
  }

  /** Brings the kernel to `desired`; resolves true when it had to write. */
  async reconcile(desired: DscpMarking): Promise<boolean> {
    const have = await this.observe();
    this.last = desired;
    if (have && sameMarking(have, desired)) return false;
    await this.nft.run(['-f', '-'], markingScript(desired));
    return true;
  }

  /** Removes the table (marking nothing), if this marker ever wrote one. */
  async remove(): Promise<void> {
    if (!this.last) return;
    this.last = undefined;
    await this.nft.run(['-f', '-'], markingScript({ dscp: 0, ports: [] }));
  }
}
