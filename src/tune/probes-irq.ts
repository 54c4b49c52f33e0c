// Interrupts that may land on the lane core, and irqbalance, which would move them back.
import { formatCpuList } from './cpu-list.js';
import type { HostFacts } from './facts.js';
import { type Finding, ok, skip } from './finding.js';

/** Device IRQs whose affinity includes the core (the ones `tune apply` moves). */
export function irqsOnCore(f: HostFacts, core: number) {
  return f.irqs.filter((i) => i.affinity?.includes(core) && i.affinity.length > 0);
}

export function probeIrqAffinity(f: HostFacts, core: number): Finding {
  const id = 'irq.affinity';
  if (f.irqs.length === 0) return skip(id, '/proc/irq not readable');
  const on = irqsOnCore(f, core);
  const fired = on.reduce((s, i) => s + (i.counts[core] ?? 0), 0);
  const defaultOn = f.defaultAffinity?.includes(core) ?? false;
  const others = f.onlineCpus.filter((c) => c !== core);
  const recommended = `no IRQ may fire on CPU ${core}`;
  if (on.length === 0 && !defaultOn)
    return ok(id, `0 of ${f.irqs.length} IRQs allowed on CPU ${core}`, recommended);
  const names = on.slice(0, 8).map((i) => i.irq);
  const current =
    `${on.length} of ${f.irqs.length} IRQs allowed on CPU ${core} (${names.join(',')}${on.length > 8 ? ',…' : ''}; ` +
    `${fired} fired there)${defaultOn ? ', default affinity includes it' : ''}`;
  return {
    id,
    status: 'fail',
    current,
    recommended,
    fix: `for i in /proc/irq/*/smp_affinity_list; do echo ${formatCpuList(others)} > $i; done`,
    fixKind: 'runtime',
  };
}

export function probeIrqbalance(f: HostFacts): Finding {
  const id = 'irqbalance.running';
  if (!f.processes) return skip(id, 'ps not available');
  const running = f.processes.some((p) => p.comm === 'irqbalance');
  if (!running) return ok(id, 'not running', 'not running');
  return {
    id,
    status: 'warn',
    current: 'running (it moves IRQs back onto the lane core)',
    recommended: 'stopped, or IRQBALANCE_BANNED_CPULIST set to the lane core',
    fix: 'systemctl stop irqbalance   # tune apply --stop-irqbalance',
    fixKind: 'runtime',
  };
}

export function probeNuma(f: HostFacts, core: number, coreNode: number): Finding {
  const id = 'numa.nic_core';
  if (!f.nic) return skip(id, 'no NIC given and no default route');
  if (!f.nic.exists) return skip(id, `NIC ${f.nic.name} not found`);
  const nicNode = f.nic.numaNode >= 0 ? f.nic.numaNode : f.nodes.length === 1 ? f.nodes[0]!.id : -1;
  if (nicNode < 0) return skip(id, `${f.nic.name}: NUMA node not exposed`);
  const current = `${f.nic.name} on node ${nicNode}, CPU ${core} on node ${coreNode}`;
  if (nicNode === coreNode) return ok(id, current, 'same node');
  const local = f.nodes.find((n) => n.id === nicNode)?.cpus ?? [];
  return {
    id,
    status: 'fail',
    current,
    recommended: `a lane core on node ${nicNode} (CPUs ${formatCpuList(local)})`,
    fix: `xlane tune core --nic ${f.nic.name}   # then run the agent with that --core`,
    fixKind: 'manual',
  };
}
