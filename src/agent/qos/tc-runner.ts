// The one door to the kernel's traffic control: everything QoS does goes through `tc`, behind this
// interface, so unit tests run a fake and integration tests the real binary in a namespace.
import { execFile } from 'node:child_process';
import { XlaneError } from '../../errors.js';

export interface TcRunner {
  /** Runs `tc ARGS…` and resolves with its stdout; rejects with XL_ERR_KERNEL and tc's stderr. */
  run(args: readonly string[]): Promise<string>;
}

export interface ExecTcOptions {
  /** Run inside this network namespace (`tc -n NS`). */
  netns?: string;
  tcPath?: string;
  timeoutMs?: number;
}

export function execTcRunner(opts: ExecTcOptions = {}): TcRunner {
  const bin = opts.tcPath ?? 'tc';
  const prefix = opts.netns ? ['-n', opts.netns] : [];
  return {
    run(args) {
      const argv = [...prefix, ...args];
      return new Promise((resolve, reject) => {
        execFile(bin, argv, { timeout: opts.timeoutMs ?? 10_000 }, (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const why = String(stderr).trim() || err.message;
          reject(
            new XlaneError('XL_ERR_KERNEL', `tc ${argv.join(' ')}: ${why}`, {
              command: ['tc', ...argv],
              stderr: String(stderr),
            }),
          );
        });
      });
    },
  };
}
