// Reads everything the probes judge, once, into plain data. Probes and the core choice are pure
// functions of these facts; only this file (and the command runner) touches the machine.
import type { CommandRunner } from './command-runner.js';
import { parseCpuList, parseCpuMask } from './cpu-list.js';
import type { HostFs } from './host-fs.js';
import { cmdlineCpus, cmdlineParams } from './kernel-cmdline.js';
import { type NicFacts, readNicFacts } from './nic-facts.js';

export interface IrqFacts {
  irq: string;
  /** CPUs the IRQ may fire on, undefined when smp_affinity_list is unreadable. */
  affinity: number[] | undefined;
  name: string;
  /** Interrupt count per CPU from /proc/interrupts (index = CPU). */
  counts: number[];
}

export interface CpuIdleState {
  index: number;
  name: string;
  latencyUs: number;
  disabled: boolean;
}

export interface ProcessFacts {
  pid: number;
  cpu: number;
  pcpu: number;
  comm: string;
}

export interface HostFacts {
  cmdline: string;
  onlineCpus: number[];
  isolated: number[];
  nohzFull: number[];
  rcuNocbs: number[];
  nodes: { id: number; cpus: number[] }[];
  irqs: IrqFacts[];
  defaultAffinity: number[] | undefined;
  /** /proc/sys/kernel/<name> values, trimmed; absent when the file does not exist. */
  kernel: Record<string, string | undefined>;
  timerSlackNs: number | undefined;
  governor: (cpu: number) => { current?: string; available: string[] };
  idleStates: (cpu: number) => CpuIdleState[];
  thp: string | undefined;
  swaps: string[];
  nic: NicFacts | undefined;
  processes: ProcessFacts[] | undefined;
}

export const KERNEL_KNOBS = ['watchdog', 'nmi_watchdog', 'soft_watchdog', 'sched_rt_runtime_us'] as const;

function cpusOf(fs: HostFs, path: string): number[] | undefined {
  const t = fs.readFile(path);
  if (t === undefined) return undefined;
  try {
    return parseCpuList(t);
  } catch {
    return undefined;
  }
}

function parseInterrupts(text: string | undefined): Map<string, { counts: number[]; name: string }> {
  const out = new Map<string, { counts: number[]; name: string }>();
  if (!text) return out;
  const lines = text.split('\n');
  const ncpu = (lines[0] ?? '').trim().split(/\s+/).filter(Boolean).length;
  for (const line of lines.slice(1)) {
    const m = /^\s*(\w+):(.*)$/.exec(line);
    if (!m) continue;
    const fields = m[2]!.trim().split(/\s+/);
    const counts = fields.slice(0, ncpu).map(Number);
    out.set(m[1]!, {
      counts: counts.map((c) => (Number.isFinite(c) ? c : 0)),
      name: fields.slice(ncpu).join(' '),
    });
  }
  return out;
}

export function parsePs(stdout: string): ProcessFacts[] {
  const out: ProcessFacts[] = [];
  for (const line of stdout.split('\n').slice(1)) {
    const m = /^\s*(\d+)\s+(\d+)\s+([\d.]+)\s+(.+)$/.exec(line);
    if (m) out.push({ pid: Number(m[1]), cpu: Number(m[2]), pcpu: Number(m[3]), comm: m[4]!.trim() });
  }
  return out;
}

/** The interface of the default route, the NIC lanes most likely use when none is named. */
export function defaultRouteNic(fs: HostFs): string | undefined {
  for (const line of (fs.readFile('/proc/net/route') ?? '').split('\n').slice(1)) {
    const [iface, dest] = line.trim().split(/\s+/);
    if (iface && dest === '00000000') return iface;
  }
  return undefined;
}

export function readTopology(fs: HostFs): Pick<HostFacts, 'cmdline' | 'onlineCpus' | 'isolated' | 'nodes'> & {
  nohzFull: number[];
  rcuNocbs: number[];
} {
  const cmdline = (fs.readFile('/proc/cmdline') ?? '').trim();
  const params = cmdlineParams(cmdline);
  const onlineCpus = cpusOf(fs, '/sys/devices/system/cpu/online') ?? [0];
  const isolated = new Set([
    ...(cpusOf(fs, '/sys/devices/system/cpu/isolated') ?? []),
    ...cmdlineCpus(params, 'isolcpus', onlineCpus),
  ]);
  const nodes: { id: number; cpus: number[] }[] = [];
  for (const d of fs.readdir('/sys/devices/system/node')) {
    const m = /^node(\d+)$/.exec(d);
    if (!m) continue;
    nodes.push({ id: Number(m[1]), cpus: cpusOf(fs, `/sys/devices/system/node/${d}/cpulist`) ?? [] });
  }
  nodes.sort((a, b) => a.id - b.id);
  return {
    cmdline,
    onlineCpus,
    isolated: [...isolated].filter((c) => onlineCpus.includes(c)).sort((a, b) => a - b),
    nodes,
    nohzFull: cmdlineCpus(params, 'nohz_full', onlineCpus),
    rcuNocbs: cmdlineCpus(params, 'rcu_nocbs', onlineCpus),
  };
}

export function readHostFacts(fs: HostFs, runner: CommandRunner, opts: { nic?: string } = {}): HostFacts {
  const topo = readTopology(fs);
  const interrupts = parseInterrupts(fs.readFile('/proc/interrupts'));
  const irqs: IrqFacts[] = fs
    .readdir('/proc/irq')
    .filter((d) => /^\d+$/.test(d))
    .sort((a, b) => Number(a) - Number(b))
    .map((irq) => ({
      irq,
      affinity: cpusOf(fs, `/proc/irq/${irq}/smp_affinity_list`),
      name: interrupts.get(irq)?.name ?? '',
      counts: interrupts.get(irq)?.counts ?? [],
    }));
  const defaultMask = fs.readFile('/proc/irq/default_smp_affinity');
  const kernel: Record<string, string | undefined> = {};
  for (const k of KERNEL_KNOBS) kernel[k] = fs.readFile(`/proc/sys/kernel/${k}`)?.trim();
  const slack = fs.readFile('/proc/self/timerslack_ns');
  const ps = runner.run(['ps', '-eo', 'pid,psr,pcpu,comm']);
  const nicName = opts.nic ?? defaultRouteNic(fs);
  return {
    ...topo,
    irqs,
    defaultAffinity: defaultMask === undefined ? undefined : parseCpuMask(defaultMask),
    kernel,
    timerSlackNs: slack === undefined ? undefined : Number(slack.trim()),
    governor: (cpu) => ({
      current: fs.readFile(`/sys/devices/system/cpu/cpu${cpu}/cpufreq/scaling_governor`)?.trim(),
      available: (fs.readFile(`/sys/devices/system/cpu/cpu${cpu}/cpufreq/scaling_available_governors`) ?? '')
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    }),
    idleStates: (cpu) =>
      fs
        .readdir(`/sys/devices/system/cpu/cpu${cpu}/cpuidle`)
        .filter((d) => /^state\d+$/.test(d))
        .map((d) => {
          const base = `/sys/devices/system/cpu/cpu${cpu}/cpuidle/${d}`;
          return {
            index: Number(d.slice(5)),
            name: fs.readFile(`${base}/name`)?.trim() ?? d,
            latencyUs: Number(fs.readFile(`${base}/latency`)?.trim() ?? 0),
            disabled: fs.readFile(`${base}/disable`)?.trim() === '1',
          };
        })
        .sort((a, b) => a.index - b.index),
    thp: fs.readFile('/sys/kernel/mm/transparent_hugepage/enabled')?.trim(),
    swaps: (fs.readFile('/proc/swaps') ?? '')
      .split('\n')
      .slice(1)
      .map((l) => l.trim())
      .filter(Boolean),
    nic: nicName === undefined ? undefined : readNicFacts(fs, runner, nicName),
    processes: ps.code === 0 ? parsePs(ps.stdout) : undefined,
  };
}
