// NIC settings that hold packets back before the host sees them.
import type { HostFacts } from './facts.js';
import { type Finding, ok, skip } from './finding.js';

export function coalescingOff(c: NonNullable<NonNullable<HostFacts['nic']>['coalescing']>): boolean {
  return c.adaptiveRx !== 'on' && (c.rxUsecs === undefined || c.rxUsecs === 0);
}

export function probeCoalescing(f: HostFacts): Finding {
  const id = 'nic.coalescing';
  if (!f.nic) return skip(id, 'no NIC given and no default route');
  const c = f.nic.coalescing;
  if (!c) return skip(id, `${f.nic.name}: coalescing not exposed (ethtool -c)`);
  const current = `adaptive-rx ${c.adaptiveRx}, rx-usecs ${c.rxUsecs ?? 'n/a'}, rx-frames ${c.rxFrames ?? 'n/a'}`;
  const recommended = 'adaptive-rx off, rx-usecs 0 (interrupt per packet)';
  if (coalescingOff(c)) return ok(id, current, recommended);
  return {
    id,
    status: 'warn',
    current,
    recommended,
    fix: `ethtool -C ${f.nic.name}${c.adaptiveRx === 'on' ? ' adaptive-rx off' : ''} rx-usecs 0`,
    fixKind: 'runtime',
  };
}

export function probeOffloads(f: HostFacts): Finding {
  const id = 'nic.offloads';
  if (!f.nic) return skip(id, 'no NIC given and no default route');
  const k = f.nic.features;
  if (!k) return skip(id, `${f.nic.name}: features not exposed (ethtool -k)`);
  const lro = k['large-receive-offload'] ?? 'n/a';
  const gro = k['generic-receive-offload'] ?? 'n/a';
  const current = `lro ${lro}, gro ${gro}`;
  // LRO merges packets in hardware and waits for more; GRO only merges within one poll, so it stays.
  if (lro !== 'on') return ok(id, current, 'lro off');
  return {
    id,
    status: 'warn',
    current,
    recommended: 'lro off (hardware aggregation delays small packets)',
    fix: `ethtool -K ${f.nic.name} lro off`,
    fixKind: 'manual',
  };
}
