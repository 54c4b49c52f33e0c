// --fd parsing, FD lane names and which grants count as a member's FD lane; the incarnation rule.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  classifyFdLane,
  fdLaneName,
  parseFdGroup,
  parseFdLaneName,
  resolveFdGroups,
  validateGroups,
} from '../../src/fd/group-config.js';
import { claimIncarnation, MAX_INCARNATION, nextIncarnation } from '../../src/fd/incarnation.js';
import { fdGrant } from './fakes.js';

describe('--fd GROUP[=members]', () => {
  it('parses a group and its members', () => {
    expect(parseFdGroup('g1=h1,h2, h3')).toEqual({ name: 'g1', members: ['h1', 'h2', 'h3'] });
    expect(parseFdGroup('raft_1=leaf1.h1,leaf2.h7').members).toEqual(['leaf1.h1', 'leaf2.h7']);
  });

  it('takes a bare group name as every host of the topology', () => {
    expect(parseFdGroup('g1')).toEqual({ name: 'g1' });
    const hosts = ['h1', 'h2', 'h3'];
    expect(resolveFdGroups([{ name: 'g1' }, { name: 'g2', members: ['h1', 'h3'] }], hosts)).toEqual([
      { name: 'g1', members: ['h1', 'h2', 'h3'] },
      { name: 'g2', members: ['h1', 'h3'] },
    ]);
    expect(() => validateGroups('h9', [{ name: 'g1' }])).not.toThrow(); // checked once resolved
  });

  it('refuses bad input with XL_ERR_VALIDATION', () => {
    for (const bad of ['g1=', 'g1= , ', 'g.1=h1,h2', '=h1', 'g1=h1,h1', 'g1=h1,-x', 'g 1=h1', 'g.1']) {
      expect(() => parseFdGroup(bad), bad).toThrow(expect.objectContaining({ code: 'XL_ERR_VALIDATION' }));
    }
  });

  it('wants this host in every group, and each group once', () => {
    expect(() => validateGroups('h1', [{ name: 'g', members: ['h2', 'h3'] }])).toThrow(
      /does not include this host h1/,
    );
    expect(() =>
      validateGroups('h1', [
        { name: 'g', members: ['h1', 'h2'] },
        { name: 'g', members: ['h1', 'h3'] },
      ]),
    ).toThrow(/given twice/);
    expect(() => validateGroups('h1', [{ name: 'g', members: ['h1', 'h2'] }])).not.toThrow();
  });
});

describe('FD lane names', () => {
  it('round-trip xfd.<group>.<host>, hosts may contain dots', () => {
    expect(fdLaneName('g1', 'h1')).toBe('xfd.g1.h1');
    expect(parseFdLaneName('xfd.g1.leaf1.h1')).toEqual({ group: 'g1', host: 'leaf1.h1' });
    for (const n of [undefined, 'fd-h1', 'xfd.', 'xfd.g1', 'xfd..h1', 'xfd.g1.', 'xfd.g$.h1']) {
      expect(parseFdLaneName(n), String(n)).toBeUndefined();
    }
  });

  it('counts a grant as a member’s FD lane only if its sender is that member of one of our groups', () => {
    const groups = new Map([['g', { name: 'g', members: ['h1', 'h2', 'h3'] }]]);
    const at = (name: string | undefined, sender: string, receivers: string[]) =>
      classifyFdLane(fdGrant('L1', name, sender, receivers), 'h1', groups);
    expect(at('xfd.g.h1', 'h1', ['h2', 'h3'])).toEqual({ role: 'sender', group: 'g' });
    expect(at('xfd.g.h2', 'h2', ['h1', 'h3'])).toEqual({ role: 'receiver', group: 'g', member: 'h2' });
    expect(at('xfd.g.h2', 'h3', ['h1'])).toMatchObject({
      role: 'invalid',
      why: 'named for h2 but sent by h3',
    });
    expect(at('xfd.g.h9', 'h9', ['h1'])).toMatchObject({ role: 'invalid', why: 'h9 is not a member here' });
    expect(at('xfd.other.h2', 'h2', ['h1'])).toEqual({ role: 'none' }); // a group we do not run
    expect(at('raft', 'h2', ['h1'])).toEqual({ role: 'none' });
    expect(at(undefined, 'h2', ['h1'])).toEqual({ role: 'none' });
  });
});

describe('incarnation', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('is the larger of the clock in seconds and the last one + 1', () => {
    expect(nextIncarnation(undefined, 1_700_000_000_999)).toBe(1_700_000_000);
    expect(nextIncarnation(1_700_000_000, 1_700_000_000_500)).toBe(1_700_000_001); // same second
    expect(nextIncarnation(1_800_000_000, 1_700_000_000_000)).toBe(1_800_000_001); // clock went back
    expect(() => nextIncarnation(MAX_INCARNATION, 0)).toThrow(/u32/);
  });

  it('is recorded next to the socket and counts up across claims within one second', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlane-inc-'));
    dirs.push(dir);
    const path = join(dir, 'agent.sock.fd-incarnation');
    const a = claimIncarnation(path, 1_700_000_000_000);
    const b = claimIncarnation(path, 1_700_000_000_400);
    expect([a, b]).toEqual([1_700_000_000, 1_700_000_001]);
    expect(readFileSync(path, 'utf8').trim()).toBe('1700000001');
  });

  it('falls back to the clock, with a warning, when the file is unreadable or unwritable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlane-inc-'));
    dirs.push(dir);
    const garbled = join(dir, 'x');
    writeFileSync(garbled, 'not a number');
    const warnings: string[] = [];
    expect(claimIncarnation(garbled, 5_000, (m) => warnings.push(m))).toBe(5);
    expect(claimIncarnation(join(dir, 'missing-dir', 'y'), 6_000, (m) => warnings.push(m))).toBe(6);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatch(/cannot record incarnation 6/);
  });
});
