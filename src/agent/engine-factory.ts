// Picks the lane engine for the agent: `native` (pinned C thread) falls back to `js` with one
// warning when the addon is not built, so deployment scripts can always ask for native.
import { createEngineOfKind, type EngineKind } from '../engine/native/select.js';
import type { Engine } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import type { AgentLog } from './log.js';

export type { EngineKind };

export function parseEngineKind(s: string): EngineKind {
  if (s === 'js' || s === 'native') return s;
  throw new XlaneError('XL_ERR_VALIDATION', `--engine must be js or native, not "${s}"`);
}

export function createEngine(kind: EngineKind, log: AgentLog): Engine {
  return createEngineOfKind(kind, { warn: (message) => log.warn({ engine: 'js' }, message) });
}
