// Which CLOCK_MONOTONIC this host reads: the kernel's boot id. Every network namespace (and
// container) of one running kernel shares the clock and the id; another machine, or this one after
// a reboot, has another. The engines stamp frames with CLOCK_MONOTONIC, so a receiver can turn a
// stamp into one-way latency only when the sender's id is its own (docs/protocol.md, the receive
// counters). Linux time namespaces could offset the clock under the same id: xlane does not create
// them, and an agent in one can pass its own id (AgentOptions.clockDomain).
import { readFileSync } from 'node:fs';

export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

/** The boot id, or undefined where the kernel does not expose it (not Linux, /proc not mounted):
 * then the agent says nothing, and receivers measure as if the clock were shared. */
export function readClockDomain(path = BOOT_ID_PATH): string | undefined {
  try {
    return bootIdOf(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The boot id in the text of BOOT_ID_PATH (undefined for none), for readers that reach the file
 * their own way: `xlane tune` reads the host through HostFs, whose root may be a fake tree. */
export function bootIdOf(text: string | undefined): string | undefined {
  const id = text?.trim();
  return id && id.length <= 64 ? id : undefined;
}

/** Whether a receiver on `own` may read a sender's stamps as its own clock: yes unless both ids are
 * known and differ (an agent that said nothing keeps the old behaviour, a measured latency). */
export function sharesClock(own: string | undefined, sender: string | undefined): boolean {
  return own === undefined || sender === undefined || own === sender;
}
