// RFC 1982 serial-number arithmetic on u32 sequence numbers: a lane at 10 kHz wraps its sequence
// after ~5 days, and comparison must keep working across the wrap.

/** Signed distance a − b in the 32-bit sequence space: > 0 when a is newer than b. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqNext(a: number): number {
  return (a + 1) >>> 0;
}
