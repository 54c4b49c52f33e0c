// What the NIC contributes: its NUMA node (sysfs) and its coalescing/offload settings (ethtool).
import type { CommandRunner } from './command-runner.js';
import type { HostFs } from './host-fs.js';

export interface NicCoalescing {
  adaptiveRx: 'on' | 'off' | 'n/a';
  rxUsecs: number | undefined;
  rxFrames: number | undefined;
}

export interface NicFacts {
  name: string;
  exists: boolean;
  /** -1 when the platform does not say (single-node machines, virtual NICs). */
  numaNode: number;
  /** undefined when ethtool is missing or the driver does not expose coalescing. */
  coalescing: NicCoalescing | undefined;
  /** ethtool -k features, e.g. { 'large-receive-offload': 'on' }. */
  features: Record<string, string> | undefined;
}

export function parseCoalescing(stdout: string): NicCoalescing | undefined {
  const num = (key: string): number | undefined => {
    const m = new RegExp(`^${key}:\\s*(\\d+)`, 'm').exec(stdout);
    return m ? Number(m[1]) : undefined;
  };
  const adaptive = /^Adaptive RX:\s*(on|off|n\/a)/m.exec(stdout);
  const rxUsecs = num('rx-usecs');
  if (!adaptive && rxUsecs === undefined) return undefined;
  return {
    adaptiveRx: (adaptive?.[1] as NicCoalescing['adaptiveRx']) ?? 'n/a',
    rxUsecs,
    rxFrames: num('rx-frames'),
  };
}

export function parseFeatures(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^\s*([\w-]+):\s*(on|off)/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function readNicNumaNode(fs: HostFs, nic: string): number {
  // Virtual NICs (virtio) hang below their PCI function; the node file sits one level up.
  for (const p of [`/sys/class/net/${nic}/device/numa_node`, `/sys/class/net/${nic}/device/../numa_node`]) {
    const t = fs.readFile(p);
    if (t !== undefined && /^-?\d+$/.test(t.trim())) return Number(t.trim());
  }
  return -1;
}

export function readNicFacts(fs: HostFs, runner: CommandRunner, name: string): NicFacts {
  const c = runner.run(['ethtool', '-c', name]);
  const k = runner.run(['ethtool', '-k', name]);
  return {
    name,
    exists: fs.exists(`/sys/class/net/${name}`),
    numaNode: readNicNumaNode(fs, name),
    coalescing: c.code === 0 ? parseCoalescing(c.stdout) : undefined,
    features: k.code === 0 ? parseFeatures(k.stdout) : undefined,
  };
}
