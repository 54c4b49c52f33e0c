// iperf3's JSON summary and the bounds on a cross-traffic request, without running anything.
import { describe, expect, it } from 'vitest';
import { isXlaneError } from '../../src/errors.js';
import { planTestbed } from '../../src/testbed/plan.js';
import { makeState } from '../../src/testbed/state.js';
import { parseIperfJson, validateTraffic } from '../../src/testbed/traffic.js';
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
        { endSec: 1.0001, bps: 951_000_000 },
        { endSec: 2.0003, bps: 949_000_000 },
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

  it('refuses unknown hosts, a host to itself, unbounded time and UDP without a rate', () => {
    for (const o of [
      { from: 'nope', to: b, kind: 'tcp' as const, seconds: 5 },
      { from: a, to: a, kind: 'tcp' as const, seconds: 5 },
      { from: a, to: b, kind: 'tcp' as const, seconds: 0 },
      { from: a, to: b, kind: 'tcp' as const, seconds: 7200 },
      { from: a, to: b, kind: 'udp' as const, seconds: 5 },
      { from: a, to: b, kind: 'tcp' as const, seconds: 5, streams: 0 },
    ]) {
      expect(code(() => validateTraffic(state, o))).toBe('XL_ERR_VALIDATION');
    }
  });
});
