// One lane's window for the interference bench's pure tests: 100 µs period, 10..100 µs promised.
import type { LaneWindow } from '../../src/bench/interference-stats.js';

export const W: LaneWindow = {
  lane: 'L1',
  name: 'h1-h2',
  from: 'h1',
  to: 'h2',
  periodNs: 100_000,
  payloadBytes: 64,
  lambdaMinNs: 10_000,
  lambdaMaxNs: 100_000,
};
