// The native engine against the shared conformance suite, in each receive mode. In 'poll' mode
// the application is the poller: here a setImmediate loop calls poll() for as long as the engine
// runs, as an application's own event-loop-friendly poller would.
import { describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../src/engine/native/addon.js';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import { createNativeEngine } from '../../src/engine/native/select.js';
import { LATE_RELEASE_FLOOR_NS } from '../../src/engine/schedule.js';
import type { Engine, EngineOptions } from '../../src/engine/types.js';
import { runEngineConformance } from './conformance.js';
import { allowedCpus } from './native-helpers.js';

const load = loadNativeAddon();

/** A native engine in 'poll' mode with its poller: the same Engine, plus a loop calling poll(). */
function polled(): Engine {
  const engine = createNativeEngine({ receive: 'poll' }).engine!;
  let running = false;
  const loop = () => {
    if (!running) return;
    for (let i = 0; i < 64; i++) engine.poll();
    setImmediate(loop);
  };
  return new Proxy(engine, {
    get(target: NativeEngine, prop, receiver) {
      if (prop === 'start')
        return async (opts: EngineOptions) => {
          await target.start(opts);
          running = true;
          setImmediate(loop);
        };
      if (prop === 'close')
        return async () => {
          running = false;
          await target.close();
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

if (load.ok) {
  runEngineConformance('native busy-poll', () => createNativeEngine().engine!);
  runEngineConformance('native blocking', () => createNativeEngine({ receive: 'blocking' }).engine!);
  runEngineConformance('native poll (application thread polls)', polled);
  // The backup thread shares the sender lanes with the engine thread under a lock, and its reader
  // takes receive passes under the loop lock: every rule holds with both (they step in whenever
  // the engine thread is 50 µs late, or made no pass for 20 µs with data waiting: often, here).
  runEngineConformance(
    'native blocking with a backup clock and reader',
    () =>
      createNativeEngine({ receive: 'blocking', backupCore: allowedCpus().at(-1)!, backupReadUs: 20 })
        .engine!,
  );
} else {
  describe('engine conformance: native', () => {
    it.skip(`skipped: the addon is not built (${load.reason})`, () => {});
  });
}

describe.skipIf(!load.ok)('native engine constants shared with TypeScript', () => {
  it('counts late releases from the same floor as the js engine', () => {
    if (!load.ok) return;
    expect(load.addon.layout.LATE_RELEASE_FLOOR_NS).toBe(LATE_RELEASE_FLOOR_NS);
  });
});
