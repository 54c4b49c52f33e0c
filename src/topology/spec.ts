// The validated, unit-normalised topology every other part of xlane works from.
// Times are integer-free nanoseconds (number), rates bit/s, sizes bytes. The YAML loader
// (load.ts) accepts human units ("10Gbit", "1.5us", "256KiB") and produces this shape.

export interface LatencyRange {
  minNs: number;
  maxNs: number;
}

export interface HostSpec {
  name: string;
  /** Line rate of the host's NIC; the host's egress port runs at min(nicRateBps, link rate). */
  nicRateBps: number;
  /** Measured bound on the time from the application's send to the frame leaving the NIC. */
  send: LatencyRange;
  /** Measured bound on the time from the frame arriving at the NIC to the application having it. */
  recv: LatencyRange;
  /** Buffer of the host's egress queue (qdisc) for the express class. */
  bufferBytes: number;
  /** E: how late after its period boundary the host's engine may release a frame and keep the
   * lane's grid of boundaries (src/engine/schedule.ts). The allocator counts it as jitter at the
   * source; grants carry it. Absent = 0: every boundary counts from the previous release. */
  releaseJitterNs?: number;
}

export interface SwitchSpec {
  name: string;
  /** Time from a frame fully received to its first bit eligible on the egress port. */
  forwarding: LatencyRange;
  /** Buffer of every egress port of this switch (bytes). */
  portBufferBytes: number;
}

export interface LinkSpec {
  /** Endpoints: host or switch names. Links are full duplex: one egress port at each end. */
  a: string;
  b: string;
  rateBps: number;
  propagationNs: number;
  /** Share (0..1] of the link rate that express traffic may use, in each direction. */
  expressShare: number;
  /** false: a frame alone on the link is not held for its transmission time (a veth shaped by HTB:
   * the rate caps the throughput, but a lone frame crosses at memory speed), so λ_min counts no
   * transmission time on it. Absent: true, as on a real wire. λ_max is unchanged either way. */
  serializes?: boolean;
}

export interface TopologySpec {
  name: string;
  /** IP MTU of best-effort traffic. */
  mtuBytes: number;
  /** Largest best-effort frame on the wire (incl. Ethernet header, FCS, preamble, IFG): it blocks
   * the express class for one frame time at every hop (non-preemptive priority). */
  maxFrameBytes: number;
  /** DSCP that marks express traffic (46 = EF by default). */
  expressDscp: number;
  /** UDP port on which agents receive express traffic. */
  expressPort: number;
  hosts: HostSpec[];
  switches: SwitchSpec[];
  links: LinkSpec[];
}

/** On-wire overhead of Ethernet beyond the IP packet: header 14 + FCS 4 + preamble/SFD 8 + IFG 12. */
export const ETHERNET_WIRE_OVERHEAD = 38;
