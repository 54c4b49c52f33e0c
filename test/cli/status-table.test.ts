// `xlane status`'s host table: every host's send / receive bounds, and where they came from.
import { describe, expect, it } from 'vitest';
import { laneTable } from '../../src/cli/commands/lanes.js';
import { hostTable } from '../../src/cli/commands/status.js';
import type { HostView, LaneView } from '../../src/controller/views.js';
import { grant } from '../agent/grants.js';

const req = { sender: 'h1', receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 100_000 };

const base = { registered: true, connected: true, version: 3, ackedVersion: 3 };

describe('hostTable', () => {
  it('shows the bounds in force and their source, measured with its time', () => {
    const hosts: HostView[] = [
      {
        ...base,
        name: 'h1',
        agentVersion: '0.1.0',
        protocol: 1,
        bounds: {
          source: 'measured',
          at: '2026-11-26T21:00:00.000Z',
          sendLatency: { minNs: 2_800, maxNs: 86_000 },
          recvLatency: { minNs: 3_100, maxNs: 730_000 },
        },
      },
      {
        ...base,
        name: 'h2',
        connected: false,
        bounds: {
          source: 'declared',
          sendLatency: { minNs: 0, maxNs: 50_000 },
          recvLatency: { minNs: 0, maxNs: 50_000 },
          releaseJitterNs: 20_000,
        },
      },
    ];
    const rows = hostTable(hosts).split('\n');
    const h1 = rows.find((r) => r.includes('h1'))!;
    const h2 = rows.find((r) => r.includes('h2'))!;
    expect(rows[1]).toMatch(/send bound.*receive bound.*release jitter.*bounds/);
    expect(h2).toMatch(/20\s*µs/);
    expect(h1).not.toMatch(/20\s*µs/);
    expect(h1).toMatch(/2\.8\s*µs – 86\s*µs/);
    expect(h1).toMatch(/730\s*µs/);
    expect(h1).toContain('measured 2026-11-26T21:00:00.000Z');
    expect(h2).toContain('declared');
    expect(h2).toMatch(/\bno\b/);
    expect(h1).toContain('0.1.0 (protocol 1)');
  });
});

describe('laneTable', () => {
  it("shows each lane's phase next to its period (blank for a grant from before phases)", () => {
    const g = grant('L1', { phaseNs: 50_000 });
    const lanes: LaneView[] = [
      { id: 'L1', state: 'live', request: req, grant: g, pendingHosts: [], createdAt: '' },
      { id: 'L2', state: 'live', request: req, grant: grant('L2'), pendingHosts: [], createdAt: '' },
    ];
    const [header, first, second] = laneTable(lanes)
      .split('\n')
      .filter((l) => l.includes('│'))
      .map((l) => l.split('│').map((c) => c.trim()));
    const at = header!.indexOf('phase');
    expect(at).toBe(header!.indexOf('π') + 1);
    expect(first![at]).toBe('50µs');
    expect(second![at]).toBe('');
  });
});
