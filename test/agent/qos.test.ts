// Kernel QoS: the pure desired state, tc output parsing (on text captured from iproute2 6.1), and
// TcManager reconciling against the fake tc: install, idempotence, lane changes, drift, removal.
import { describe, expect, it } from 'vitest';
import {
  BEST_EFFORT_CLASS,
  desiredQos,
  dscpMatch,
  EXPRESS_CLASS,
  qosOptionsFor,
  udpSourcePortMatches,
} from '../../src/agent/qos/desired.js';
import { TcManager } from '../../src/agent/qos/tc-manager.js';
import { parseClassText, parseFilterText, parseTcRate, parseTcSize } from '../../src/agent/qos/tc-parse.js';
import { loadTopologyFile } from '../../src/topology/load.js';
import { TESTBED } from '../controller/helpers.js';
import { FakeTc } from './fake-tc.js';
import { grant } from './grants.js';

const OPTS = { host: 'h1', linkRateBps: 1e9, expressShare: 0.2, dscp: 46 };

describe('desiredQos', () => {
  it('builds the HTB tree: express prio 0 at the share with ceil = link, best effort prio 1', () => {
    const q = desiredQos([], 'eth0', OPTS);
    expect(q.qdisc).toEqual({ handle: 'e1:', defaultMinor: '20' });
    expect(q.classes.map((c) => [c.classid, c.parent, c.rateBps, c.ceilBps, c.prio])).toEqual([
      ['e1:1', 'e1:', 1e9, 1e9, undefined],
      [EXPRESS_CLASS, 'e1:1', 2e8, 1e9, 0],
      [BEST_EFFORT_CLASS, 'e1:1', 8e8, 1e9, 1],
    ]);
    expect(q.filters).toEqual([
      { pref: 1, flowid: EXPRESS_CLASS, matches: [{ value: 0xb80000, mask: 0xfc0000, at: 0 }] },
    ]);
  });

  it('matches DSCP 46 as tos 0xb8/0xfc, and adds one source-port filter per lane this host sends', () => {
    expect(dscpMatch(46)).toEqual({ value: 0x00b80000, mask: 0x00fc0000, at: 0 });
    const grants = [
      grant('L1', { srcPort: 40_001 }),
      grant('L2', { srcPort: 20_000 }),
      grant('L3', { sender: 'h2', srcPort: 20_005 }), // h1 only receives it
    ];
    const q = desiredQos(grants, 'eth0', OPTS);
    expect(q.filters.map((f) => f.pref)).toEqual([1, 20_000, 40_001]);
    expect(udpSourcePortMatches(40_001)).toEqual([
      { value: 0x00110000, mask: 0x00ff0000, at: 8 },
      { value: 0x9c410000, mask: 0xffff0000, at: 20 },
    ]);
  });

  it('takes link rate, share and DSCP from the topology, and refuses nonsense', () => {
    const spec = loadTopologyFile(TESTBED);
    expect(qosOptionsFor(spec, 'h2')).toMatchObject({ linkRateBps: 1e9, expressShare: 0.2, dscp: 46 });
    expect(() => qosOptionsFor(spec, 'nope')).toThrow(
      expect.objectContaining({ code: 'XL_ERR_UNKNOWN_HOST' }),
    );
    expect(() => desiredQos([], 'eth0', { ...OPTS, expressShare: 0 })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
    expect(() => desiredQos([], 'eth0', { ...OPTS, dscp: 64 })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
  });
});

describe('tc output parsing (iproute2 6.1 text)', () => {
  it('reads HTB classes', () => {
    const text =
      'class htb e1:10 parent e1:1 prio 0 rate 200Mbit ceil 1Gbit burst 1600b cburst 1375b \n' +
      'class htb e1:1 root rate 123456Kbit ceil 1Gbit burst 1375b cburst 1375b \n';
    expect(parseClassText(text)).toEqual([
      {
        kind: 'htb',
        classid: 'e1:10',
        parent: 'e1:1',
        prio: 0,
        rateBps: 2e8,
        ceilBps: 1e9,
        burstBytes: 1600,
        cburstBytes: 1375,
      },
      {
        kind: 'htb',
        classid: 'e1:1',
        parent: 'root',
        rateBps: 123_456_000,
        ceilBps: 1e9,
        burstBytes: 1375,
        cburstBytes: 1375,
      },
    ]);
    expect(parseTcSize('24Kb')).toBe(24_576);
    expect(parseTcSize('1.5Mb')).toBe(1_572_864);
    expect(parseTcSize('25000b')).toBe(25_000);
    expect(parseTcSize('25000')).toBeUndefined();
    expect(parseTcRate('12bit')).toBe(12);
    expect(parseTcRate('1.5Gbit')).toBe(1.5e9);
    expect(parseTcRate('fast')).toBeUndefined();
  });

  it('reads u32 key nodes with all their matches and skips the hash-table lines', () => {
    const text = [
      'filter parent 1: protocol ip pref 2 u32 chain 0 ',
      'filter parent 1: protocol ip pref 2 u32 chain 0 fh 801: ht divisor 1 ',
      'filter parent 1: protocol ip pref 2 u32 chain 0 fh 801::800 order 2048 key ht 801 bkt 0 *flowid 1:10 not_in_hw ',
      '  match 00110000/00ff0000 at 8',
      '  match 4e200000/ffff0000 at 20',
      '',
    ].join('\n');
    expect(parseFilterText(text)).toEqual([
      {
        parent: '1:',
        protocol: 'ip',
        pref: 2,
        kind: 'u32',
        fh: '801::800',
        flowid: '1:10',
        matches: [
          { value: 0x110000, mask: 0xff0000, at: 8 },
          { value: 0x4e200000, mask: 0xffff0000, at: 20 },
        ],
      },
    ]);
  });
});

describe('TcManager against the fake tc', () => {
  it('installs, then does nothing while in sync, and follows lane changes with minimal commands', async () => {
    const tc = new FakeTc('eth0');
    const m = new TcManager(tc, 'eth0');
    const first = await m.reconcile(desiredQos([grant('L1')], 'eth0', OPTS));
    expect(first[0]).toEqual([
      'qdisc',
      'replace',
      'dev',
      'eth0',
      'root',
      'handle',
      'e1:',
      'htb',
      'default',
      '20',
    ]);
    expect(tc.take()).toHaveLength(1 + 3 + 2);
    expect(m.originalRoot).toMatchObject({ kind: 'noqueue', handle: '0:' });

    expect(await m.reconcile(desiredQos([grant('L1')], 'eth0', OPTS))).toEqual([]);
    expect(tc.take()).toEqual([]);

    await m.reconcile(desiredQos([grant('L2', { srcPort: 20_002 })], 'eth0', OPTS));
    expect(tc.take()).toEqual([
      'filter del dev eth0 parent e1: protocol ip pref 20001',
      'filter add dev eth0 parent e1: protocol ip pref 20002 u32 match u32 0x00110000 0x00ff0000 at 8 match u32 0x4e220000 0xffff0000 at 20 flowid e1:10',
    ]);

    // A new express share changes the two leaf classes only.
    await m.reconcile(desiredQos([grant('L2', { srcPort: 20_002 })], 'eth0', { ...OPTS, expressShare: 0.3 }));
    expect(tc.take()).toEqual([
      'class replace dev eth0 parent e1:1 classid e1:10 htb rate 300000000bit ceil 1000000000bit prio 0 quantum 1600 burst 7500 cburst 25000',
      'class replace dev eth0 parent e1:1 classid e1:20 htb rate 700000000bit ceil 1000000000bit prio 1 quantum 1600 burst 17500 cburst 25000',
    ]);
  });

  it('gives every class 200 µs of burst, replaces a class left at the one-MTU default of tc, and accepts the rounding of the kernel', async () => {
    const q = desiredQos([], 'eth0', OPTS);
    expect(q.classes.map((c) => [c.classid, c.burstBytes, c.cburstBytes])).toEqual([
      ['e1:1', 25_000, 25_000],
      ['e1:10', 5_000, 25_000],
      ['e1:20', 20_000, 25_000],
    ]);
    const tc = new FakeTc('eth0');
    const m = new TcManager(tc, 'eth0');
    await m.reconcile(q);
    tc.take();
    // An agent of before: the class has tc's default burst.
    tc.classes.get('e1:20')!.burst = 1600;
    expect(await m.resync()).toEqual([
      'class replace dev eth0 parent e1:1 classid e1:20 htb rate 800000000bit ceil 1000000000bit prio 1 quantum 1600 burst 20000 cburst 25000'.split(
        ' ',
      ),
    ]);
    // 150.5 µs of 200 Mbit/s is 3,763 B; the kernel keeps 150 µs and tc prints 3,750 B back: in sync.
    const odd = desiredQos([], 'eth0', { ...OPTS, htbBurstNs: 150_500 });
    expect(odd.classes[1]!.burstBytes).toBe(3763);
    await m.reconcile(odd);
    expect(tc.classText()).toContain('burst 3750b');
    expect(await m.reconcile(odd)).toEqual([]);
  });

  it('repairs drift: a filter deleted by hand and a class changed by hand come back', async () => {
    const tc = new FakeTc('eth0');
    const m = new TcManager(tc, 'eth0');
    await m.reconcile(desiredQos([grant('L1')], 'eth0', OPTS));
    tc.take();
    tc.filters = tc.filters.filter((f) => f.pref !== 1);
    tc.classes.get('e1:10')!.prio = 3;
    expect(await m.resync()).toHaveLength(2);
    expect(tc.filters.map((f) => f.pref).sort((a, b) => a - b)).toEqual([1, 20_001]);
    expect(tc.classes.get('e1:10')!.prio).toBe(0);
    expect(await m.resync()).toEqual([]);
  });

  it('removes what it installed and gives the interface its original root qdisc back', async () => {
    const tc = new FakeTc('eth0', { kind: 'mq', handle: '0:' });
    const m = new TcManager(tc, 'eth0');
    await m.reconcile(desiredQos([grant('L1')], 'eth0', OPTS));
    expect(tc.root.kind).toBe('htb');
    expect(await m.remove()).toMatchObject({ kind: 'mq', handle: '0:' });
    expect(tc.classes.size + tc.filters.length).toBe(0);
  });

  it('refuses to take over a root qdisc someone else installed, and reports tc failures', async () => {
    const tc = new FakeTc('eth0', { kind: 'tbf', handle: '8001:' });
    const m = new TcManager(tc, 'eth0');
    await expect(m.reconcile(desiredQos([], 'eth0', OPTS))).rejects.toMatchObject({
      code: 'XL_ERR_KERNEL',
      message: expect.stringContaining('tbf 8001:'),
    });
    expect(tc.take()).toEqual([]);
    const missing = new TcManager(tc, 'wlan9');
    await expect(missing.reconcile(desiredQos([], 'wlan9', OPTS))).rejects.toMatchObject({
      code: 'XL_ERR_KERNEL',
    });
  });
});
