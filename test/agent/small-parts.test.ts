// Peers map parsing, the CAP_NET_ADMIN check, and reconnect backoff.
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/agent/backoff.js';
import { hasNetAdmin } from '../../src/agent/capabilities.js';
import { mergePeers, parsePeerList, parsePeersFile } from '../../src/agent/peers.js';

describe('peers', () => {
  it('parses --peers and a peers file; the option beats the file', () => {
    const file = parsePeersFile('# testbed\nh1 10.0.0.1\nh2=10.0.0.2   # second\n\nh3\tfd00::3\n');
    expect([...file]).toEqual([
      ['h1', '10.0.0.1'],
      ['h2', '10.0.0.2'],
      ['h3', 'fd00::3'],
    ]);
    expect(mergePeers(file, parsePeerList('h2=10.9.9.2, h4=10.0.0.4')).get('h2')).toBe('10.9.9.2');
  });

  it('reports bad entries with line:col', () => {
    expect(() => parsePeersFile('h1 10.0.0.1\n  h2 not-an-ip\n', 'peers.txt')).toThrow(
      expect.objectContaining({
        code: 'XL_ERR_VALIDATION',
        message: expect.stringMatching(/^peers\.txt:2:3: /),
      }),
    );
    expect(() => parsePeerList('h1=10.0.0.1,h1=10.0.0.2')).toThrow(/h1 is listed twice/);
    expect(() => parsePeerList('h1')).toThrow(expect.objectContaining({ code: 'XL_ERR_VALIDATION' }));
  });

  it('names every bad entry at once, and quotes none whole', () => {
    const blob = 'x'.repeat(5000);
    let message = '';
    try {
      parsePeersFile(`h1 10.0.0.1\nh2 nope\n${blob}\nh1 10.0.0.9\n`, 'peers.txt');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      'peers.txt: 3 bad entries',
      'peers.txt:2:1: "nope" (for h2) is not an IP address',
      `peers.txt:3:1: expected name=address, got "${'x'.repeat(60)}… (5000 characters)"`,
      'peers.txt:4:1: h1 is listed twice',
    ]);
    expect(() => parsePeerList('h1=1.2.3.4,h2')).toThrow(/^--peers peers\[1\]: expected name=address/);
  });
});

describe('hasNetAdmin', () => {
  it('reads bit 12 of CapEff', () => {
    expect(hasNetAdmin('Name:\tnode\nCapEff:\t000001ffffffffff\n')).toBe(true);
    expect(hasNetAdmin('CapEff:\t0000000000001000\n')).toBe(true);
    expect(hasNetAdmin('CapEff:\t0000000000000fff\n')).toBe(false);
    expect(hasNetAdmin('CapEff:\t0000000000000000\n')).toBe(false);
    expect(hasNetAdmin('no such line')).toBe(false);
  });
});

describe('Backoff', () => {
  it('doubles up to the cap, jitters within [ceiling/2, ceiling], and resets', () => {
    const lo = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    expect(Array.from({ length: 6 }, () => lo.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const hi = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    expect(Array.from({ length: 6 }, () => hi.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    hi.reset();
    expect(hi.next()).toBe(100);
  });
});
