// Reading tc's class counters (text format: iproute2 6.1 prints no JSON for HTB classes).
import { describe, expect, it } from 'vitest';
import { parseClassStats } from '../../src/testbed/status.js';

// Captured from `tc -s class show dev p1` on this project's testbed (iproute2 6.1).
const OUTPUT = `class htb 1:10 parent 1:1 prio 0 rate 200Mbit ceil 1Gbit burst 1600b cburst 1375b 
 Sent 518 bytes 7 pkt (dropped 0, overlimits 0 requeues 0) 
 backlog 0b 0p requeues 0
 lended: 7 borrowed: 0 giants: 0
 tokens: 1000 ctokens: 187

class htb 1:1 root rate 1Gbit ceil 1Gbit burst 1375b cburst 1375b 
 Sent 2106 bytes 25 pkt (dropped 0, overlimits 0 requeues 0) 
 backlog 0b 0p requeues 0
 lended: 0 borrowed: 0 giants: 0
 tokens: 187 ctokens: 187

class htb 1:20 parent 1:1 prio 1 rate 800Mbit ceil 1Gbit burst 1600b cburst 1375b 
 Sent 1588 bytes 18 pkt (dropped 3, overlimits 0 requeues 0) 
 backlog 0b 0p requeues 0
`;

describe('parseClassStats', () => {
  it('attaches each Sent line to the class above it', () => {
    expect(parseClassStats(OUTPUT)).toEqual([
      {
        classid: '1:1',
        parent: 'root',
        rateBps: 1e9,
        ceilBps: 1e9,
        sentBytes: 2106,
        sentPackets: 25,
        dropped: 0,
      },
      {
        classid: '1:10',
        parent: '1:1',
        prio: 0,
        rateBps: 2e8,
        ceilBps: 1e9,
        sentBytes: 518,
        sentPackets: 7,
        dropped: 0,
      },
      {
        classid: '1:20',
        parent: '1:1',
        prio: 1,
        rateBps: 8e8,
        ceilBps: 1e9,
        sentBytes: 1588,
        sentPackets: 18,
        dropped: 3,
      },
    ]);
  });

  it('reads nothing from empty output, and no counters from a class line alone', () => {
    expect(parseClassStats('')).toEqual([]);
    expect(parseClassStats('class htb 1:10 parent 1:1 prio 0 rate 1Mbit ceil 1Mbit')[0]).toMatchObject({
      sentPackets: 0,
      sentBytes: 0,
    });
  });
});
