// Grants as the controller sends them, for the pure tests.
import type { WireGrant } from '../../src/controller/views.js';

export function grant(laneId: string, over: Partial<WireGrant> = {}): WireGrant {
  const receivers = over.receivers ?? [
    { host: 'h2', path: ['h1', 's1', 'h2'], lambdaMinNs: 12_000, lambdaMaxNs: 140_000, jitterNs: 128_000 },
  ];
  return {
    laneId,
    epoch: 3,
    sender: 'h1',
    maxPayloadBytes: 64,
    minPeriodNs: 100_000,
    policy: 'reject',
    dscp: 46,
    priority: 6,
    srcPort: 20_001,
    dstPort: 7400,
    wireBytes: 184,
    rateBps: 14_720_000,
    tree: [
      { from: 'h1', to: 's1' },
      { from: 's1', to: 'h2' },
    ],
    state: 'live',
    ...over,
    receivers,
  };
}

export const PEERS = new Map([
  ['h1', '10.0.0.1'],
  ['h2', '10.0.0.2'],
  ['h3', '10.0.0.3'],
]);
