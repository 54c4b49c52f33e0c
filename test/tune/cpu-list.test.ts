import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCpuList, formatCpuMask, parseCpuList, parseCpuMask } from '../../src/tune/cpu-list.js';
import { cmdlineCpus, cmdlineParams } from '../../src/tune/kernel-cmdline.js';

const cpuSets = fc
  .uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 40 })
  .map((a) => a.sort((x, y) => x - y));

describe('CPU lists and masks', () => {
  it('list: parse(format(s)) = s', () => {
    fc.assert(
      fc.property(cpuSets, (s) => {
        expect(parseCpuList(formatCpuList(s))).toEqual(s);
      }),
    );
  });

  it('mask: parse(format(s)) = s', () => {
    fc.assert(
      fc.property(cpuSets, (s) => {
        expect(parseCpuMask(formatCpuMask(s))).toEqual(s);
      }),
    );
  });

  it('kernel spellings', () => {
    expect(parseCpuList('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseCpuList('0-7:2/4')).toEqual([0, 1, 4, 5]);
    expect(parseCpuMask('00000000,00000003')).toEqual([0, 1]);
    expect(formatCpuMask([0, 40])).toBe('100,00000001');
    expect(() => parseCpuList('1-x')).toThrow(expect.objectContaining({ code: 'XL_ERR_VALIDATION' }));
  });

  it('isolcpus flags and bare rcu_nocbs; init arguments after "--" are ignored', () => {
    const p = cmdlineParams('ro isolcpus=domain,managed_irq,2-3 rcu_nocbs -- nohz_full=1');
    expect(cmdlineCpus(p, 'isolcpus', [0, 1, 2, 3])).toEqual([2, 3]);
    expect(cmdlineCpus(p, 'rcu_nocbs', [0, 1, 2, 3])).toEqual([0, 1, 2, 3]);
    expect(cmdlineCpus(p, 'nohz_full', [0, 1, 2, 3])).toEqual([]);
  });
});
