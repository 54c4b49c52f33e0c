// The DSCP marking of lane frames (nftables): the pure desired state and nft JSON parsing, and the
// marker's reconcile loop against a fake nft that keeps its table like the kernel does.
import { describe, expect, it } from 'vitest';
import { desiredMarking, markingScript, parseMarking, sameMarking } from '../../src/agent/qos/dscp-mark.js';
import { DscpMarker, execNftRunner, type NftRunner } from '../../src/agent/qos/dscp-marker.js';
import { XlaneError } from '../../src/errors.js';
import { grant } from './grants.js';

/** `nft -n -j list table ip xlane` as nft 1.0.6 prints it, for a rule with `right` as its ports. */
function listing(right: unknown, dscp: unknown = 46, extra: object[] = []): string {
  return JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'ip', name: 'xlane', handle: 1 } },
      {
        chain: {
          family: 'ip',
          table: 'xlane',
          name: 'dscp_mark',
          handle: 1,
          type: 'filter',
          hook: 'output',
          prio: -150,
          policy: 'accept',
        },
      },
      {
        rule: {
          family: 'ip',
          table: 'xlane',
          chain: 'dscp_mark',
          handle: 3,
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'udp', field: 'sport' } }, right } },
            { mangle: { key: { payload: { protocol: 'ip', field: 'dscp' } }, value: dscp } },
          ],
        },
      },
      ...extra,
    ],
  });
}

describe('desired DSCP marking', () => {
  it('marks the source ports of the lanes this host sends, ascending and once each', () => {
    const grants = [
      grant('A', { srcPort: 20_003 }),
      grant('B', { srcPort: 20_001 }),
      grant('C', { srcPort: 20_003 }),
      grant('D', { sender: 'h2', srcPort: 20_002 }),
    ];
    expect(desiredMarking(grants, 'h1', 46)).toEqual({ dscp: 46, ports: [20_001, 20_003] });
    expect(desiredMarking(grants, 'h3', 46)).toEqual({ dscp: 46, ports: [] });
  });

  it('writes one atomic replace of the table, and only the deletion when nothing is to be marked', () => {
    const script = markingScript({ dscp: 46, ports: [20_001, 20_003] });
    expect(script.split('\n')).toEqual([
      'add table ip xlane',
      'delete table ip xlane',
      'add table ip xlane',
      'add chain ip xlane dscp_mark { type filter hook output priority mangle; policy accept; }',
      'add rule ip xlane dscp_mark udp sport { 20001, 20003 } ip dscp set 46',
      '',
    ]);
    expect(markingScript({ dscp: 46, ports: [] })).toBe('add table ip xlane\ndelete table ip xlane\n');
  });

  it("reads nft's JSON: one port, a set, ranges nft folded", () => {
    expect(parseMarking(listing(20_001))).toEqual({ dscp: 46, ports: [20_001] });
    expect(parseMarking(listing({ set: [20_001, 20_005] }))).toEqual({ dscp: 46, ports: [20_001, 20_005] });
    expect(parseMarking(listing({ set: [{ range: [20_001, 20_003] }, 20_009] }, 10))).toEqual({
      dscp: 10,
      ports: [20_001, 20_002, 20_003, 20_009],
    });
  });

  it('reads anything else in our table as "not ours" (null), so it gets rewritten', () => {
    expect(parseMarking('not json')).toBeNull();
    expect(parseMarking('{}')).toBeNull();
    expect(parseMarking(listing(20_001, 'ef'))).toBeNull(); // symbolic: listed without -n
    const secondRule = { rule: { family: 'ip', table: 'xlane', chain: 'dscp_mark', handle: 4, expr: [] } };
    expect(parseMarking(listing(20_001, 46, [secondRule]))).toBeNull();
    const set = { set: { family: 'ip', table: 'xlane', name: 'ports' } };
    expect(parseMarking(listing(20_001, 46, [set]))).toBeNull();
    expect(parseMarking(listing({ set: [{ prefix: 1 }] }))).toBeNull();
  });

  it('compares port lists and, when there are ports, the DSCP', () => {
    expect(sameMarking({ dscp: 46, ports: [1, 2] }, { dscp: 46, ports: [1, 2] })).toBe(true);
    expect(sameMarking({ dscp: 46, ports: [1, 2] }, { dscp: 10, ports: [1, 2] })).toBe(false);
    expect(sameMarking({ dscp: 46, ports: [1] }, { dscp: 46, ports: [1, 2] })).toBe(false);
    expect(sameMarking({ dscp: 46, ports: [] }, { dscp: 0, ports: [] })).toBe(true);
  });
});

/** Keeps the marking the last script wrote and lists it back the way nft does. */
class FakeNft implements NftRunner {
  table: { dscp: number; ports: number[] } | undefined;
  readonly scripts: string[] = [];
  missing = false;

  async run(args: readonly string[], input?: string): Promise<string> {
    if (this.missing) throw new XlaneError('XL_ERR_KERNEL', 'nft is not installed', { missing: 'nft' });
    if (args.join(' ') === '-n -j list table ip xlane') {
      if (!this.table) throw new XlaneError('XL_ERR_KERNEL', 'no such table', { noSuchTable: true });
      const t = this.table;
      return listing(t.ports.length === 1 ? t.ports[0] : { set: t.ports }, t.dscp);
    }
    if (args.join(' ') !== '-f -' || input === undefined) throw new Error(`unexpected nft ${args.join(' ')}`);
    this.scripts.push(input);
    const rule = /udp sport \{ ([\d, ]+) \} ip dscp set (\d+)/.exec(input);
    this.table = rule ? { dscp: Number(rule[2]), ports: rule[1]!.split(', ').map(Number) } : undefined;
    return '';
  }
}

describe('DscpMarker against a fake nft', () => {
  it('writes only on a difference, follows lanes, repairs a deleted table and removes its own', async () => {
    const nft = new FakeNft();
    const m = new DscpMarker(nft);
    await m.remove(); // never wrote: nothing to remove
    expect(nft.scripts).toEqual([]);
    expect(await m.reconcile({ dscp: 46, ports: [] })).toBe(false); // no lanes, no table: in sync

    expect(await m.reconcile({ dscp: 46, ports: [20_001] })).toBe(true);
    expect(nft.table).toEqual({ dscp: 46, ports: [20_001] });
    expect(await m.reconcile({ dscp: 46, ports: [20_001] })).toBe(false);
    expect(await m.reconcile({ dscp: 46, ports: [20_001, 20_002] })).toBe(true);
    expect(nft.table).toEqual({ dscp: 46, ports: [20_001, 20_002] });

    nft.table = undefined; // someone ran `nft flush ruleset`
    expect(await m.reconcile({ dscp: 46, ports: [20_001, 20_002] })).toBe(true);
    expect(nft.table).toEqual({ dscp: 46, ports: [20_001, 20_002] });

    await m.remove();
    expect(nft.table).toBeUndefined();
    expect(nft.scripts).toHaveLength(4);
  });

  it('passes on the missing-nft error for the agent to report once', async () => {
    const nft = new FakeNft();
    nft.missing = true;
    await expect(new DscpMarker(nft).reconcile({ dscp: 46, ports: [1] })).rejects.toMatchObject({
      code: 'XL_ERR_KERNEL',
      details: { missing: 'nft' },
    });
  });
});

describe('execNftRunner', () => {
  it('survives an nft that exits without reading its stdin (EPIPE is not an uncaught error)', async () => {
    // /bin/true never reads: writing a megabyte after it exited is EPIPE on the pipe.
    const nft = execNftRunner({ nftPath: '/bin/true' });
    for (let i = 0; i < 20; i++) await expect(nft.run(['-f', '-'], 'x'.repeat(1 << 20))).resolves.toBe('');
  });

  it('names a missing nft binary', async () => {
    await expect(
      execNftRunner({ nftPath: '/nonexistent/nft' }).run(['list', 'tables']),
    ).rejects.toMatchObject({
      code: 'XL_ERR_KERNEL',
      details: { missing: 'nft' },
    });
  });
});
