// Every probe on every fixture machine: the expected status per finding id.
import { describe, expect, it } from 'vitest';
import { runCheck } from '../../src/tune/check.js';
import { fixture } from './helpers.js';

const EXPECTED: Record<string, Record<string, string>> = {
  'vm-1node': {
    'cmdline.isolcpus': 'fail',
    'cmdline.nohz_full': 'warn',
    'cmdline.rcu_nocbs': 'warn',
    'irq.affinity': 'fail',
    'irqbalance.running': 'ok',
    'numa.nic_core': 'ok',
    'watchdog.soft': 'warn',
    'watchdog.nmi': 'ok',
    'rt.throttling': 'warn',
    'timer.slack': 'warn',
    'cpu.governor': 'skip',
    'cpu.idle': 'skip',
    'thp.enabled': 'ok',
    'nic.coalescing': 'ok',
    'nic.offloads': 'ok',
    swap: 'ok',
    'core.busy': 'ok',
  },
  'numa2-isolated': {
    'cmdline.isolcpus': 'ok',
    'cmdline.nohz_full': 'ok',
    'cmdline.rcu_nocbs': 'ok',
    'irq.affinity': 'ok',
    'irqbalance.running': 'ok',
    'numa.nic_core': 'ok',
    'watchdog.soft': 'ok',
    'watchdog.nmi': 'ok',
    'rt.throttling': 'ok',
    'timer.slack': 'ok',
    'cpu.governor': 'ok',
    'cpu.idle': 'ok',
    'thp.enabled': 'ok',
    'nic.coalescing': 'ok',
    'nic.offloads': 'ok',
    swap: 'ok',
    'core.busy': 'ok',
  },
  misconfigured: {
    'cmdline.isolcpus': 'fail',
    'cmdline.nohz_full': 'warn',
    'cmdline.rcu_nocbs': 'warn',
    'irq.affinity': 'fail',
    'irqbalance.running': 'warn',
    'numa.nic_core': 'ok',
    'watchdog.soft': 'warn',
    'watchdog.nmi': 'warn',
    'rt.throttling': 'warn',
    'timer.slack': 'warn',
    'cpu.governor': 'warn',
    'cpu.idle': 'warn',
    'thp.enabled': 'warn',
    'nic.coalescing': 'warn',
    'nic.offloads': 'warn',
    swap: 'warn',
    'core.busy': 'warn',
  },
};

describe('tune check on fixture machines', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: status of every finding`, () => {
      const { fs, runner } = fixture(name);
      const r = runCheck(fs, runner);
      expect(Object.fromEntries(r.findings.map((f) => [f.id, f.status]))).toEqual(expected);
      for (const f of r.findings) {
        // A problem always says how to fix it, and what kind of fix it is.
        if (f.status === 'warn' || f.status === 'fail') {
          expect(f.fix, f.id).not.toBe('');
          expect(['runtime', 'reboot', 'manual'], f.id).toContain(f.fixKind);
        }
      }
    });
  }

  it('misconfigured: the fixes name the lane core, the NIC and the deep idle states', () => {
    const { fs, runner } = fixture('misconfigured');
    const r = runCheck(fs, runner);
    const by = Object.fromEntries(r.findings.map((f) => [f.id, f]));
    expect(r.core).toBe(3);
    expect(by['irq.affinity']!.current).toMatch(
      /^3 of 4 IRQs allowed on CPU 3 \(16,130,131; 9221 fired there\)/,
    );
    expect(by['nic.coalescing']!.fix).toBe('ethtool -C eno1 adaptive-rx off rx-usecs 0');
    expect(by['cpu.idle']!.fix).toBe(
      'echo 1 > /sys/devices/system/cpu/cpu3/cpuidle/state2/disable; echo 1 > /sys/devices/system/cpu/cpu3/cpuidle/state3/disable',
    );
    expect(by['core.busy']!.current).toContain('stress-ng[3100]');
    // Per-CPU kernel threads on the core are not "other busy work".
    expect(by['core.busy']!.current).not.toContain('migration');
    expect(r.kernelCmdline).toBe('isolcpus=3 nohz_full=3 rcu_nocbs=3');
  });

  it('numa2-isolated: a core on the wrong node fails the NUMA check and the isolation checks', () => {
    const { fs, runner } = fixture('numa2-isolated');
    const r = runCheck(fs, runner, { core: 2 });
    const by = Object.fromEntries(r.findings.map((f) => [f.id, f]));
    expect(by['numa.nic_core']!.status).toBe('fail');
    expect(by['numa.nic_core']!.current).toBe('ens1f0 on node 1, CPU 2 on node 0');
    expect(by['cmdline.isolcpus']!.fix).toBe('isolcpus=2-3,6-7');
    expect(by['irq.affinity']!.status).toBe('fail');
  });

  it('a NIC that does not exist is skipped, not a crash', () => {
    const { fs, runner } = fixture('vm-1node');
    const r = runCheck(fs, runner, { nic: 'nope0' });
    const by = Object.fromEntries(r.findings.map((f) => [f.id, f.status]));
    expect(by['numa.nic_core']).toBe('skip');
    expect(by['nic.coalescing']).toBe('skip');
  });

  it('an empty root (no /proc, no /sys) gives skips and defaults, never a crash', () => {
    const { fs, runner } = fixture('does-not-exist');
    const r = runCheck(fs, runner);
    expect(r.core).toBe(0);
    expect(r.findings.find((f) => f.id === 'irq.affinity')!.status).toBe('skip');
  });
});
