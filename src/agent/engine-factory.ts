// Picks the lane engine for the agent: `native` (pinned C thread) falls back to `js` with one
// warning when the addon is not built, so deployment scripts can always ask for native.
import { createEngineOfKind, type EngineKind } from '../engine/native/select.js';
import { parseSpinSetting, type SpinSetting, spinSettingErrors } from '../engine/spin-setting.js';
import type { Engine } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import type { AgentLog } from './log.js';

export type { EngineKind };

/** How the engine's own thread runs (the agent's --fifo, --receive, --spin-us, --max-spin-us, --backup-core, --backup-read-us). */
export interface EngineTuning {
  /** SCHED_FIFO priority of the native engine thread, or of the js engine's pacing worker. */
  fifoPriority?: number;
  /** Native only: busy-poll (default) or blocking receive. ('poll' needs the application's own
   * thread as the poller: it is for embedded engines, not for the agent.) */
  receive?: 'busy-poll' | 'blocking';
  /** The engine thread (native) or pacing worker (js) sleeps until this long before a boundary or
   * deadline, then spins (µs), or 'auto' (the engines' default): learned from how late its sleeps end. */
  spinUs?: SpinSetting;
  /** With spinUs 'auto': the most the learned margin may be (µs). */
  maxSpinUs?: number;
  /** Native only: the backup clock's CPU, which sends the heartbeats the engine thread misses while
   * its own CPU is stalled (NativeEngineOptions.backupCore). */
  backupCore?: number;
  /** Native only, with backupCore: the backup thread also reads a socket the engine thread left
   * unread this long (µs) while its CPU is stalled (NativeEngineOptions.backupReadUs). */
  backupReadUs?: number;
}

export function parseEngineKind(s: string): EngineKind {
  if (s === 'js' || s === 'native') return s;
  throw new XlaneError('XL_ERR_VALIDATION', `--engine must be js or native, not "${s}"`);
}

export function parseEngineTuning(o: {
  fifo?: string;
  receive?: string;
  spinUs?: string;
  maxSpinUs?: string;
  backupCore?: string;
  backupReadUs?: string;
}): EngineTuning {
  const t: EngineTuning = {};
  if (o.fifo !== undefined) {
    const p = Number(o.fifo);
    // 99 is the kernel's own (migration and watchdog threads): a deployed agent stays below it,
    // while the engine API and the benches accept it for experiments.
    if (!/^\d+$/.test(o.fifo) || p < 1 || p > 98)
      throw new XlaneError('XL_ERR_VALIDATION', `--fifo must be a priority 1..98, not "${o.fifo}"`);
    t.fifoPriority = p;
  }
  if (o.receive !== undefined) {
    if (o.receive !== 'busy-poll' && o.receive !== 'blocking')
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `--receive must be busy-poll or blocking, not "${o.receive}"`,
      );
    t.receive = o.receive;
  }
  if (o.spinUs !== undefined || o.maxSpinUs !== undefined) {
    const spin = o.spinUs === undefined ? undefined : parseSpinSetting(o.spinUs);
    const max = o.maxSpinUs === undefined ? undefined : Number(o.maxSpinUs);
    if (max !== undefined && (o.maxSpinUs!.trim() === '' || !Number.isFinite(max)))
      throw new XlaneError('XL_ERR_VALIDATION', `--max-spin-us must be a number of µs, not "${o.maxSpinUs}"`);
    const errors = spinSettingErrors(spin, max);
    if (errors.length)
      throw new XlaneError('XL_ERR_VALIDATION', `--spin-us / --max-spin-us: ${errors.join('; ')}`);
    if (spin !== undefined) t.spinUs = spin;
    if (max !== undefined) t.maxSpinUs = max;
  }
  if (o.backupCore !== undefined) {
    const c = Number(o.backupCore);
    if (!/^\d+$/.test(o.backupCore) || c > 1023)
      throw new XlaneError('XL_ERR_VALIDATION', `--backup-core must be a CPU number, not "${o.backupCore}"`);
    t.backupCore = c;
  }
  if (o.backupReadUs !== undefined) {
    const us = Number(o.backupReadUs);
    if (!/^\d+$/.test(o.backupReadUs) || us < 10 || us > 1_000_000)
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `--backup-read-us must be 10..1000000 µs, not "${o.backupReadUs}"`,
      );
    if (t.backupCore === undefined)
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        '--backup-read-us needs --backup-core: the backup thread reads',
      );
    t.backupReadUs = us;
  }
  return t;
}

export function createEngine(kind: EngineKind, log: AgentLog, tuning: EngineTuning = {}): Engine {
  return createEngineOfKind(kind, {
    native: {
      ...(tuning.receive ? { receive: tuning.receive } : {}),
      ...(tuning.fifoPriority !== undefined ? { fifoPriority: tuning.fifoPriority } : {}),
      ...(tuning.spinUs !== undefined ? { spinUs: tuning.spinUs } : {}),
      ...(tuning.maxSpinUs !== undefined ? { maxSpinUs: tuning.maxSpinUs } : {}),
      ...(tuning.backupCore !== undefined ? { backupCore: tuning.backupCore } : {}),
      ...(tuning.backupReadUs !== undefined ? { backupReadUs: tuning.backupReadUs } : {}),
    },
    js: {
      ...(tuning.fifoPriority !== undefined ? { fifoPriority: tuning.fifoPriority } : {}),
      ...(tuning.spinUs !== undefined ? { spinUs: tuning.spinUs } : {}),
      ...(tuning.maxSpinUs !== undefined ? { maxSpinUs: tuning.maxSpinUs } : {}),
    },
    warn: (message) => log.warn({ engine: 'js' }, message),
  });
}
