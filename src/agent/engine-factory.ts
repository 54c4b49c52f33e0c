// Picks the lane engine. The native engine is the next issue; until it exists `native` runs the
// js engine and says so, so deployment scripts can already ask for it.
import { createJsEngine } from '../engine/js/engine.js';
import type { Engine } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import type { AgentLog } from './log.js';

export type EngineKind = 'js' | 'native';

export function parseEngineKind(s: string): EngineKind {
  if (s === 'js' || s === 'native') return s;
  throw new XlaneError('XL_ERR_VALIDATION', `--engine must be js or native, not "${s}"`);
}

export function createEngine(kind: EngineKind, log: AgentLog): Engine {
  if (kind === 'native') {
    log.warn({ engine: 'js' }, 'the native engine is not built yet: running the js engine instead');
  }
  return createJsEngine();
}
