// Human messages and machine details for a failed constraint: operators read the message (it names
// the link and the numbers), clients match on details.reason and details.bottleneck.
import type { Infeasibility } from './feasibility.js';
import { type CompiledGraph, portLabel } from './graph.js';

function trim(v: number): string {
  return String(Number.parseFloat(v.toPrecision(4)));
}

export function formatBps(bps: number): string {
  if (bps >= 1e9) return `${trim(bps / 1e9)} Gbit/s`;
  if (bps >= 1e6) return `${trim(bps / 1e6)} Mbit/s`;
  if (bps >= 1e3) return `${trim(bps / 1e3)} kbit/s`;
  return `${trim(bps)} bit/s`;
}

export function formatNs(ns: number): string {
  if (ns >= 1e6) return `${trim(ns / 1e6)} ms`;
  if (ns >= 1e3) return `${trim(ns / 1e3)} µs`;
  return `${trim(ns)} ns`;
}

export function describeInfeasibility(
  g: CompiledGraph,
  v: Infeasibility,
  newLaneId: string | undefined,
): { message: string; details: Record<string, unknown> } {
  const bottleneck = portLabel(g, v.port);
  const link = `${bottleneck.from}→${bottleneck.to}`;
  const base = { bottleneck, reason: v.reason, ...(newLaneId !== undefined ? { laneId: newLaneId } : {}) };
  switch (v.reason) {
    case 'share': {
      const expressBps = v.value * 8e9;
      const shareBps = v.limit * 8e9;
      return {
        message: `no room on ${link}: express ${formatBps(expressBps)} > share ${formatBps(shareBps)}`,
        details: { ...base, expressBps, shareBps },
      };
    }
    case 'buffer': {
      const backlogBytes = Math.ceil(v.value);
      return {
        message: `no buffer on ${link}: backlog ${backlogBytes} B > buffer ${v.limit} B`,
        details: { ...base, backlogBytes: v.value, bufferBytes: v.limit },
      };
    }
    case 'deadline':
      return {
        // The new lane's id is only a candidate: refused, it is handed to the next lane admitted,
        // so naming it would point at a lane that never existed (or at a later, other one).
        message: `${v.lane!.id === newLaneId ? 'the new lane' : `lane ${v.lane!.id}`} would miss its deadline (worst hop ${link}): λ_max ${formatNs(v.value)} > deadline ${formatNs(v.limit)}`,
        details: { ...base, laneId: v.lane!.id, lambdaMaxNs: v.value, deadlineNs: v.limit },
      };
    case 'unstable':
      return {
        message: `delay bounds do not converge around ${link}: the cyclic dependency between ports is too loaded`,
        details: { ...base, delayNs: v.value },
      };
  }
}
