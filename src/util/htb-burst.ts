// How much link time an HTB class may bank, for the testbed's ports and the agent's host egress.
//
// Left to tc, an HTB class's burst is rate ÷ HZ + MTU with HZ read from /proc/net/psched; with
// high-resolution timers that "HZ" is 1 GHz, so the burst is about one MTU: 12 µs of a 1 Gbit/s
// link. A class whose tokens are capped that low loses, for good, every microsecond its dequeue
// timer fires later than that. On the development VM (timer wake-ups ~40 µs late, gaps of
// 30–100 µs every millisecond) a 1 Gbit/s port carried 867–872 Mbit/s of TCP; with 50 µs of burst
// 932, with 100 µs 951, with 200 µs 953 (2026-11-27, `xlane testbed traffic`, 8 s each).
//
// A larger burst does not weaken the express class's priority: HTB serves the prio 0 class first
// whenever it has tokens of its own, and a shaper releases only traffic that has already arrived.

/** Link time a class may bank: covers a late timer wake-up and this VM's millisecond gaps. */
export const HTB_BURST_NS = 200_000;

/** Never below one full-size frame (what HTB needs to send anything at all). */
export const HTB_MIN_BURST_BYTES = 1600;

/** Bytes a class running at `rateBps` sends in `burstNs`, at least `minBytes`. */
export function htbBurstBytes(
  rateBps: number,
  burstNs = HTB_BURST_NS,
  minBytes = HTB_MIN_BURST_BYTES,
): number {
  return Math.max(minBytes, Math.ceil((rateBps * burstNs) / 8e9));
}
