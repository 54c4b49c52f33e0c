// The shape every heartbeat-driven detector shares, so a benchmark replays one heartbeat trace
// through several of them (X-FD's deterministic timeout, a fixed timeout, φ-accrual) the same way.
// Pure: time is passed in (ns, any one clock), nothing reads a clock or sets a timer.
export interface HeartbeatDetector {
  /** A heartbeat arrived at `nowNs` (non-decreasing). */
  heartbeat(nowNs: number): void;
  /** False once the detector suspects, i.e. iff `nowNs >= suspectAtNs()`. */
  isAvailable(nowNs: number): boolean;
  /** The exact time it will suspect if no further heartbeat comes (Infinity before the first one:
   * a member never heard from is not judged — the same rule as Akka's). No polling delay. */
  suspectAtNs(): number;
  readonly lastHeartbeatNs: number | undefined;
}
