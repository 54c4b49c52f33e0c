// What `tune apply` would change, derived purely from the facts: only runtime settings that are
// safe to flip back (IRQ affinity, watchdogs, RT throttling, governor, idle states, THP, NIC
// coalescing, and irqbalance only when asked). Never the kernel command line, never a reboot.
import type { CoreChoice } from './core-choice.js';
import { formatCpuList, formatCpuMask } from './cpu-list.js';
import type { HostFacts } from './facts.js';
import type { Finding } from './finding.js';
import { deepIdleStates } from './probes-cpu.js';
import { irqsOnCore } from './probes-irq.js';

export interface FileChange {
  id: string;
  kind: 'file';
  path: string;
  value: string;
  /** The kernel refuses to move some IRQs (EIO); such a refusal changes nothing and is not an error. */
  bestEffort?: boolean;
}

export interface CommandChange {
  id: string;
  kind: 'command';
  run: string[];
  undo: string[];
}

export type Change = FileChange | CommandChange;

export interface PlanOptions {
  stopIrqbalance?: boolean;
  /** Restrict to these finding ids. */
  only?: string[];
}

function needsFix(findings: Finding[], id: string): boolean {
  const f = findings.find((x) => x.id === id);
  return f !== undefined && (f.status === 'warn' || f.status === 'fail') && f.fixKind === 'runtime';
}

export function planChanges(
  f: HostFacts,
  choice: CoreChoice,
  findings: Finding[],
  opts: PlanOptions = {},
): Change[] {
  const core = choice.core;
  const want = (id: string) => needsFix(findings, id) && (!opts.only || opts.only.includes(id));
  const out: Change[] = [];

  // irqbalance first: if it kept running it would undo the affinity changes below.
  if (want('irqbalance.running') && opts.stopIrqbalance)
    out.push({
      id: 'irqbalance.running',
      kind: 'command',
      run: ['systemctl', 'stop', 'irqbalance'],
      undo: ['systemctl', 'start', 'irqbalance'],
    });

  const others = f.onlineCpus.filter((c) => c !== core);
  if (want('irq.affinity') && others.length > 0) {
    for (const irq of irqsOnCore(f, core)) {
      const rest = irq.affinity!.filter((c) => c !== core);
      out.push({
        id: 'irq.affinity',
        kind: 'file',
        path: `/proc/irq/${irq.irq}/smp_affinity_list`,
        value: formatCpuList(rest.length ? rest : others),
        bestEffort: true,
      });
    }
    if (f.defaultAffinity?.includes(core)) {
      const rest = f.defaultAffinity.filter((c) => c !== core);
      out.push({
        id: 'irq.affinity',
        kind: 'file',
        path: '/proc/irq/default_smp_affinity',
        value: formatCpuMask(rest.length ? rest : others),
      });
    }
  }

  const knobs: [string, string, string][] = [
    ['watchdog.soft', 'soft_watchdog', '0'],
    ['watchdog.nmi', 'nmi_watchdog', '0'],
    ['rt.throttling', 'sched_rt_runtime_us', '-1'],
  ];
  for (const [id, knob, value] of knobs)
    if (want(id)) out.push({ id, kind: 'file', path: `/proc/sys/kernel/${knob}`, value });

  if (want('cpu.governor'))
    out.push({
      id: 'cpu.governor',
      kind: 'file',
      path: `/sys/devices/system/cpu/cpu${core}/cpufreq/scaling_governor`,
      value: 'performance',
    });
  if (want('cpu.idle'))
    for (const s of deepIdleStates(f, core))
      out.push({
        id: 'cpu.idle',
        kind: 'file',
        path: `/sys/devices/system/cpu/cpu${core}/cpuidle/state${s.index}/disable`,
        value: '1',
      });
  if (want('thp.enabled'))
    out.push({
      id: 'thp.enabled',
      kind: 'file',
      path: '/sys/kernel/mm/transparent_hugepage/enabled',
      value: 'madvise',
    });

  const c = f.nic?.coalescing;
  if (want('nic.coalescing') && f.nic && c) {
    const run = ['ethtool', '-C', f.nic.name];
    const undo = ['ethtool', '-C', f.nic.name];
    if (c.adaptiveRx === 'on') {
      run.push('adaptive-rx', 'off');
      undo.push('adaptive-rx', 'on');
    }
    run.push('rx-usecs', '0');
    undo.push('rx-usecs', String(c.rxUsecs ?? 0));
    out.push({ id: 'nic.coalescing', kind: 'command', run, undo });
  }
  return out;
}

export function describeChange(c: Change): string {
  return c.kind === 'file' ? `echo ${c.value} > ${c.path}` : c.run.join(' ');
}
