// The kernel command line as the isolation parameters see it.
import { parseCpuList } from './cpu-list.js';

export function cmdlineParams(cmdline: string): Map<string, string | true> {
  const params = new Map<string, string | true>();
  // Everything after a bare "--" goes to init, not to the kernel.
  for (const tok of cmdline.trim().split(/\s+/)) {
    if (tok === '--') break;
    if (tok === '') continue;
    const eq = tok.indexOf('=');
    if (eq < 0) params.set(tok, true);
    else params.set(tok.slice(0, eq), tok.slice(eq + 1));
  }
  return params;
}

/**
 * The CPUs of a cpulist-valued parameter. isolcpus may start with flags ("domain,managed_irq,2-3"),
 * nohz_full/rcu_nocbs may be bare (rcu_nocbs alone means "all CPUs may be offloaded").
 */
export function cmdlineCpus(params: Map<string, string | true>, name: string, online: number[]): number[] {
  const v = params.get(name);
  if (v === undefined) return [];
  if (v === true) return name === 'rcu_nocbs' ? [...online] : [];
  const list = v
    .split(',')
    .filter((p) => /^[\d:/-]+$/.test(p))
    .join(',');
  try {
    return parseCpuList(list);
  } catch {
    return [];
  }
}
