// iperf3's JSON summary and the bounds on a cross-traffic request, without running anything.
import { describe, expect, it } from 'vitest';
import { isXlaneError } from '../../src/errors.js';
import { planTestbed } from '../../src/testbed/plan.js';
import { makeState } from '../../src/testbed/state.js';
import { parseIperfJson, parseIperfServerText, validateTraffic } from '../../src/testbed/traffic.js';
import { generateLeafSpine } from '../../src/topology/generate.js';

// The `end` sections iperf3 3.12 prints with -J (other keys trimmed).
const TCP = JSON.stringify({
  intervals: [
    { sum: { start: 0, end: 1.0001, bits_per_second: 951_000_000 } },
    { sum: { start: 1.0001, end: 2.0003, bits_per_second: 949_000_000 } },
  ],
  end: {
    sum_sent: { bytes: 356_000_000, bits_per_second: 950_374_000, retransmits: 12 },
    sum_received: { bytes: 354_000_000, bits_per_second: 944_313_000 },
  },
});
const UDP = JSON.stringify({
  end: {
    sum: { bits_per_second: 10_222_123, jitter_ms: 0.017, lost_packets: 3, packets: 39 },
    sum_sent: { bits_per_second: 10_230_000 },
    sum_received: { bits_per_second: 10_222_123 },
  },
});

// A TCP client ended early by SIGINT (CrossTrafficOptions.stop), as iperf3 3.12 prints it: an
// error, the sender's summary so far, and a receiver summary of 0.
const INTERRUPTED = JSON.stringify({
  intervals: [
    { sum: { start: 0, end: 0.500121, bits_per_second: 101_000_000 } },
    { sum: { start: 2.000165, end: 2.196833, bits_per_second: 100_900_000 } },
  ],
  end: {
    sum_sent: { bytes: 27_525_120, bits_per_second: 100_235_639, retransmits: 0 },
    sum_received: { bytes: 0, bits_per_second: 0 },
  },
  error: 'interrupt - the client has terminated',
});

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return isXlaneError(err) ? err.code : 'not an XlaneError';
  }
  return 'no error';
};

describe('parseIperfJson', () => {
  it('TCP: goodput at the receiver, rate at the sender, retransmits', () => {
    expect(parseIperfJson(TCP)).toEqual({
      receivedBps: 944_313_000,
      sentBps: 950_374_000,
      retransmits: 12,
      intervals: [
        { startSec: 0, endSec: 1.0001, bps: 951_000_000 },
        { startSec: 1.0001, endSec: 2.0003, bps: 949_000_000 },
      ],
    });
  });

  it('UDP: lost datagrams', () => {
    expect(parseIperfJson(UDP)).toEqual({
      receivedBps: 10_222_123,
      sentBps: 10_230_000,
      lostPackets: 3,
      intervals: [],
    });
  });

  it("a flow stopped early: the sender's rate, marked interrupted", () => {
    expect(parseIperfJson(INTERRUPTED)).toEqual({
      receivedBps: 100_235_639,
      sentBps: 100_235_639,
      retransmits: 0,
      interrupted: true,
      intervals: [
        { startSec: 0, endSec: 0.500121, bps: 101_000_000 },
        { startSec: 2.000165, endSec: 2.196833, bps: 100_900_000 },
      ],
    });
    // Interrupted before it had sent anything: no summary to give.
    expect(code(() => parseIperfJson('{"error":"interrupt - the client has terminated"}'))).toBe(
      'XL_ERR_KERNEL',
    );
  });

  it("iperf3's own error, garbage and a missing summary are XL_ERR_KERNEL", () => {
    expect(code(() => parseIperfJson('{"error":"unable to connect to server"}'))).toBe('XL_ERR_KERNEL');
    expect(code(() => parseIperfJson('iperf3: error'))).toBe('XL_ERR_KERNEL');
    expect(code(() => parseIperfJson('{"end":{}}'))).toBe('XL_ERR_KERNEL');
  });
});

describe('validateTraffic', () => {
  const state = makeState(
    planTestbed(generateLeafSpine({ leaves: 1, hostsPerLeaf: 2, spines: 0 }), { name: 'v' }),
    [],
  );
  const [a, b] = state.plan.addresses.map((x) => x.host) as [string, string];

  it('accepts a bounded TCP or paced UDP flow between two hosts', () => {
    expect(code(() => validateTraffic(state, { from: a, to: b, kind: 'tcp', seconds: 5 }))).toBe('no error');
    expect(
      code(() => validateTraffic(state, { from: a, to: b, kind: 'udp', rateBps: 1e8, seconds: 5 })),
    ).toBe('no error');
  });

  it('refuses unknown hosts, a host to itself, unbounded time, UDP without a rate and a bad CPU', () => {
    for (const o of [
      { from: 'nope', to: b, kind: 'tcp' as const, seconds: 5 },
      { from: a, to: a, kind: 'tcp' as const, seconds: 5 },
      { from: a, to: b, kind: 'tcp' as const, seconds: 0 },
      { from: a, to: b, kind: 'tcp' as const, seconds: 7200 },
      { from: a, to: b, kind: 'udp' as const, seconds: 5 },
      { from: a, to: b, kind: 'tcp' as const, seconds: 5, streams: 0 },
      { from: a, to: b, kind: 'tcp' as const, seconds: 5, cpu: -1 },
      { from: a, to: b, kind: 'tcp' as const, seconds: 5, cpu: 0.5 },
      { from: a, to: b, kind: 'udp' as const, rateBps: 1e8, seconds: 5, stop: new AbortController().signal },
    ]) {
      expect(code(() => validateTraffic(state, o))).toBe('XL_ERR_VALIDATION');
    }
  });
});

describe('parseIperfServerText', () => {
  // `iperf3 -s -1 --forceflush` as iperf 3.12 prints it.
  const ONE = `-----------------------------------------------------------
Server listening on 5299 (test #1)
-----------------------------------------------------------
Accepted connection from 127.0.0.1, port 40570
[  5] local 127.0.0.1 port 5299 connected to 127.0.0.1 port 40584
[ ID] Interval           Transfer     Bitrate
[  5]   0.00-1.00   sec  12.0 MBytes   101 Mbits/sec                  
[  5]   1.00-2.00   sec  11.9 MBytes  99.6 Mbits/sec                  
- - - - - - - - - - - - - - - - - - - - - - - - -
[ ID] Interval           Transfer     Bitrate
[  5]   0.00-2.00   sec  23.9 MBytes   100 Mbits/sec                  receiver
`;
  const TWO = `[  5]   0.00-1.00   sec  6.00 MBytes  50.3 Mbits/sec                  
[  8]   0.00-1.00   sec  6.00 MBytes  50.3 Mbits/sec                  
[SUM]   0.00-1.00   sec  12.0 MBytes   101 Mbits/sec                  
- - - - - - - - - - - - - - - - - - - - - - - - -
[  5]   1.00-1.50   sec  3.00 MBytes  50.3 Mbits/sec                  
[  8]   1.00-1.50   sec  3.00 MBytes  50.3 Mbits/sec                  
[SUM]   1.00-1.50   sec  6.00 MBytes   1.01 Gbits/sec                  
iperf3: the client has unexpectedly closed the connection
`;

  it("takes one stream's interval lines, not the summary", () => {
    expect(parseIperfServerText(ONE)).toEqual({
      receivedBps: (101e6 + 99.6e6) / 2,
      intervals: [
        { startSec: 0, endSec: 1, bps: 101e6 },
        { startSec: 1, endSec: 2, bps: 99.6e6 },
      ],
    });
  });

  it('takes the [SUM] lines of parallel streams, weighting each by its length', () => {
    const r = parseIperfServerText(TWO)!;
    expect(r.intervals).toEqual([
      { startSec: 0, endSec: 1, bps: 101e6 },
      { startSec: 1, endSec: 1.5, bps: 1.01e9 },
    ]);
    expect(r.receivedBps).toBeCloseTo((101e6 * 1 + 1.01e9 * 0.5) / 1.5, 0);
  });

  it('nothing when no interval was printed', () => {
    expect(parseIperfServerText('Server listening on 5201 (test #1)\n')).toBeUndefined();
  });
});
