// Picks an engine by kind. 'native' falls back to the js engine, with one warning that says why,
// when the addon is not built or does not load: the two pass the same conformance suite, so a
// deployment keeps working (only slower) on a machine without a compiler.
import type { RealtimeOffsetMeasurement } from '../clock.js';
import { createJsEngine, JsEngine, type JsEngineOptions } from '../js/engine.js';
import type { SpinStats } from '../spin-setting.js';
import type { Engine } from '../types.js';
import { loadNativeAddon, realtimeOffsetOf } from './addon.js';
import { NativeEngine, type NativeEngineOptions } from './engine.js';

export type EngineKind = 'js' | 'native';

export interface SelectEngineOptions {
  native?: NativeEngineOptions;
  /** For the js engine, asked for or the fallback. */
  js?: JsEngineOptions;
  /** The compiled addon to load (default: build/Release/xlane_engine.node, or $XLANE_NATIVE_ADDON). */
  addonPath?: string;
  /** Where the fallback warning goes (default: process.emitWarning). */
  warn?: (message: string) => void;
}

/** The native engine, or undefined with the reason it is not available. */
export function createNativeEngine(
  options?: NativeEngineOptions,
  addonPath?: string,
): { engine: NativeEngine; reason?: undefined } | { engine?: undefined; reason: string } {
  const load = loadNativeAddon(addonPath);
  if (!load.ok) return { reason: load.reason };
  return { engine: new NativeEngine(load.addon, options) };
}

export function createEngineOfKind(kind: EngineKind, opts: SelectEngineOptions = {}): Engine {
  if (kind === 'js') return createJsEngine(opts.js);
  const native = createNativeEngine(opts.native, opts.addonPath);
  if (native.engine) return native.engine;
  const message = `native engine unavailable (${native.reason}): running the js engine instead`;
  if (opts.warn) opts.warn(message);
  else process.emitWarning(message, { code: 'XL_NATIVE_FALLBACK' });
  return createJsEngine(opts.js);
}

/** The spin margin an engine uses before boundaries and deadlines, and what it learned it from
 * (undefined for an engine that has none, such as a test double). */
export function spinStatsOf(e: Engine): SpinStats | undefined {
  if (e instanceof NativeEngine) return e.engineStats().spin;
  if (e instanceof JsEngine) return e.spinStats();
  return undefined;
}

/** CLOCK_REALTIME − CLOCK_MONOTONIC, read in C when the addon loads (ns reads, the tightest of a few
 * brackets), else measureRealtimeOffset() in JS. The JS one brackets Date.now()'s ms tick, and on a
 * VM whose vCPUs both stall for 30–100 µs once a millisecond (docs/native-engine.md) the stall can
 * sit on the tick for seconds: every sample is then that wide, and a grant phase converted with the
 * midpoint was 25 µs off (twelfth session, a CI run of the interference test). */
export function measureRealtimeOffsetBest(addonPath?: string): RealtimeOffsetMeasurement {
  const load = loadNativeAddon(addonPath);
  return realtimeOffsetOf(load.ok ? load.addon : undefined);
}
