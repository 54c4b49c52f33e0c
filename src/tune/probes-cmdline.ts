// Kernel command-line isolation of the lane core: only a reboot changes these.
import { formatCpuList } from './cpu-list.js';
import type { HostFacts } from './facts.js';
import { type Finding, ok } from './finding.js';

function cmdlineProbe(
  id: string,
  param: string,
  cpus: number[],
  core: number,
  status: 'warn' | 'fail',
  effect: string,
): Finding {
  const current = cpus.length ? `${param}=${formatCpuList(cpus)}` : `no ${param}`;
  if (cpus.includes(core)) return ok(id, current, `CPU ${core} in ${param}`);
  const want = formatCpuList([...cpus, core]);
  return {
    id,
    status,
    current,
    recommended: `CPU ${core} in ${param} (${effect})`,
    fix: `${param}=${want}`,
    fixKind: 'reboot',
  };
}

export function probeCmdline(f: HostFacts, core: number): Finding[] {
  return [
    cmdlineProbe(
      'cmdline.isolcpus',
      'isolcpus',
      f.isolated,
      core,
      'fail',
      'no other task is scheduled there',
    ),
    cmdlineProbe('cmdline.nohz_full', 'nohz_full', f.nohzFull, core, 'warn', 'no scheduler tick while busy'),
    cmdlineProbe('cmdline.rcu_nocbs', 'rcu_nocbs', f.rcuNocbs, core, 'warn', 'RCU callbacks run elsewhere'),
  ];
}
