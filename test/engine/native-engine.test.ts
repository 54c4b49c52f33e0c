// The native engine against the shared conformance suite, in both receive modes.
import { describe, it } from 'vitest';
import { loadNativeAddon } from '../../src/engine/native/addon.js';
import { createNativeEngine } from '../../src/engine/native/select.js';
import { runEngineConformance } from './conformance.js';

const load = loadNativeAddon();

if (load.ok) {
  runEngineConformance('native busy-poll', () => createNativeEngine().engine!);
  runEngineConformance('native blocking', () => createNativeEngine({ receive: 'blocking' }).engine!);
} else {
  describe('engine conformance: native', () => {
    it.skip(`skipped: the addon is not built (${load.reason})`, () => {});
  });
}
