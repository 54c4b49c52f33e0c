// What the CPU sharing costs a bench run: the machine's busy and stolen shares of CPU time between
// two readings of /proc/stat. Both benches that share 2 vCPUs among every emulated host (fd,
// interference) report it, so a miss can be read against how full the machine was.
import { readFileSync } from 'node:fs';

export interface CpuShare {
  /** Share of all CPUs' time not idle (nor iowait). */
  busy: number;
  /** Share the hypervisor stole (time the vCPUs wanted and did not get). */
  steal: number;
}

/** The machine's CPU time counters (/proc/stat, all CPUs, in ticks); undefined off Linux. */
export function readCpuTimes(): number[] | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    return line.trim().split(/\s+/).slice(1).map(Number);
  } catch {
    return undefined;
  }
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Shares between two readings of readCpuTimes(); NaN when unknown. */
export function cpuShares(a: number[] | undefined, b: number[] | undefined): CpuShare {
  if (!a || !b || a.length < 8 || b.length < 8) return { busy: Number.NaN, steal: Number.NaN };
  const d = b.map((v, i) => v - (a[i] ?? 0));
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const total = d.slice(0, 8).reduce((x, y) => x + y, 0);
  if (!(total > 0)) return { busy: Number.NaN, steal: Number.NaN };
  return { busy: round3((total - d[3]! - d[4]!) / total), steal: round3(d[7]! / total) };
}
