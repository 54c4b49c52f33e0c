// `xlane bench engine --phase`: a number of µs, or 'none'. Commander replaces a parser's null by '',
// which once turned `--phase none` into a phase of 0 µs; the parser's value must survive it.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { phaseValue } from '../../src/cli/commands/bench-engine.js';

const parse = (args: string[]) =>
  new Command()
    .exitOverride()
    .option('--phase <us>', 'phase', phaseValue, 0)
    .parse(['node', 'x', ...args])
    .opts<{ phase: number | 'none' }>().phase;

describe('bench engine --phase', () => {
  it("keeps 'none' as none through commander, takes µs, defaults to 0", () => {
    expect(parse(['--phase', 'none'])).toBe('none');
    expect(parse(['--phase', '37.5'])).toBe(37.5);
    expect(parse([])).toBe(0);
  });

  it('refuses a negative or non-numeric phase with XL_ERR_VALIDATION', () => {
    expect(() => phaseValue('-1')).toThrow(expect.objectContaining({ code: 'XL_ERR_VALIDATION' }));
    expect(() => phaseValue('soon')).toThrow(expect.objectContaining({ code: 'XL_ERR_VALIDATION' }));
  });
});
