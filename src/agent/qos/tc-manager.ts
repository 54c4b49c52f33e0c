// Applies desired QoS to one interface by reconciling against what tc reports: read, diff, run
// only the difference. Idempotent, so the daemon may call it after every grant change and on a
// timer (someone deleting our qdisc by hand is repaired on the next pass). It takes over only a
// root qdisc the kernel attached by itself, so removing ours brings exactly that one back.
import { XlaneError } from '../../errors.js';
import type { QosState } from './desired.js';
import { diffQos, isDefaultRoot, isOurRoot, type ObservedQos, rootQdisc } from './tc-diff.js';
import { type ObservedQdisc, parseClassText, parseFilterText, parseQdiscJson } from './tc-parse.js';
import type { TcRunner } from './tc-runner.js';

export class TcManager {
  private original: ObservedQdisc | undefined;
  private installed = false;
  private last: QosState | undefined;

  constructor(
    private readonly runner: TcRunner,
    readonly iface: string,
  ) {}

  /** The root qdisc found before xlane installed its own. */
  get originalRoot(): ObservedQdisc | undefined {
    return this.original;
  }

  async observe(): Promise<ObservedQos> {
    const dev = ['dev', this.iface];
    const [q, c, f] = await Promise.all([
      this.runner.run(['-j', 'qdisc', 'show', ...dev]),
      this.runner.run(['class', 'show', ...dev]),
      this.runner.run(['filter', 'show', ...dev]),
    ]);
    return { qdiscs: parseQdiscJson(q), classes: parseClassText(c), filters: parseFilterText(f) };
  }

  /** Brings the interface to `desired`; resolves with the commands it had to run (none when in sync). */
  async reconcile(desired: QosState): Promise<string[][]> {
    if (desired.iface !== this.iface) {
      throw new XlaneError(
        'XL_ERR_INTERNAL',
        `QoS for ${desired.iface} given to the manager of ${this.iface}`,
      );
    }
    const obs = await this.observe();
    const root = rootQdisc(obs);
    if (!this.installed && !isOurRoot(root, desired)) {
      if (!isDefaultRoot(root)) {
        throw new XlaneError(
          'XL_ERR_KERNEL',
          `${this.iface} has a root qdisc xlane did not install (${root!.kind} ${root!.handle}); ` +
            `remove it (tc qdisc del dev ${this.iface} root) or choose another --iface`,
          { iface: this.iface, kind: root!.kind, handle: root!.handle },
        );
      }
      this.original = root;
    }
    const cmds = diffQos(desired, obs);
    for (const cmd of cmds) await this.runner.run(cmd);
    this.installed = true;
    this.last = desired;
    return cmds;
  }

  /** Reconciles again to the last desired state (drift repair); no-op before the first reconcile. */
  async resync(): Promise<string[][]> {
    return this.last ? this.reconcile(this.last) : [];
  }

  /** Deletes xlane's root qdisc (with its classes and filters): the kernel re-attaches the default
   * one that was there before. Resolves with the root qdisc found afterwards. */
  async remove(): Promise<ObservedQdisc | undefined> {
    const obs = await this.observe();
    const root = rootQdisc(obs);
    if (this.last && isOurRoot(root, this.last)) {
      await this.runner.run(['qdisc', 'del', 'dev', this.iface, 'root']);
    }
    this.installed = false;
    this.last = undefined;
    const after = parseQdiscJson(await this.runner.run(['-j', 'qdisc', 'show', 'dev', this.iface]));
    return after.find((q) => q.root);
  }
}
