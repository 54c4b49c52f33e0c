// The agent's --fifo / --receive / --spin-us / --backup-core: parsed with stable codes, and applied to the engine
// it creates (native, and the js engine it falls back to).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, parseEngineTuning } from '../../src/agent/engine-factory.js';
import { silentLog } from '../../src/agent/log.js';
import { createJsEngine, JsEngine } from '../../src/engine/js/engine.js';
import { NativeEngine } from '../../src/engine/native/engine.js';
import { createEngineOfKind } from '../../src/engine/native/select.js';
import type { Engine } from '../../src/engine/types.js';
import { isXlaneError } from '../../src/errors.js';
import { freeUdpPort } from '../engine/helpers.js';
import { allowedCpus, skipReason } from '../engine/native-helpers.js';

const root = process.getuid?.() === 0;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isXlaneError(e) ? e.code : 'not an XlaneError';
  }
  return undefined;
}

describe('parseEngineTuning', () => {
  it('reads the three options and leaves out what was not given', () => {
    expect(parseEngineTuning({})).toEqual({});
    expect(parseEngineTuning({ fifo: '10', receive: 'blocking', spinUs: '80', backupCore: '1' })).toEqual({
      fifoPriority: 10,
      receive: 'blocking',
      spinUs: 80,
      backupCore: 1,
    });
  });

  it('refuses bad values with XL_ERR_VALIDATION', () => {
    for (const fifo of ['0', '99', 'x', '-1', '1.5'])
      expect(codeOf(() => parseEngineTuning({ fifo }))).toBe('XL_ERR_VALIDATION');
    for (const receive of ['poll', 'spin', ''])
      expect(codeOf(() => parseEngineTuning({ receive }))).toBe('XL_ERR_VALIDATION');
    for (const spinUs of ['-1', 'lots', '20000', 'Auto'])
      expect(codeOf(() => parseEngineTuning({ spinUs }))).toBe('XL_ERR_VALIDATION');
    expect(parseEngineTuning({ spinUs: 'auto', maxSpinUs: '40' })).toEqual({ spinUs: 'auto', maxSpinUs: 40 });
    expect(parseEngineTuning({ maxSpinUs: '40' })).toEqual({ maxSpinUs: 40 });
    // A fixed margin has nothing to bound.
    expect(codeOf(() => parseEngineTuning({ spinUs: '30', maxSpinUs: '40' }))).toBe('XL_ERR_VALIDATION');
    expect(codeOf(() => parseEngineTuning({ maxSpinUs: 'x' }))).toBe('XL_ERR_VALIDATION');
    for (const backupCore of ['-1', 'one', '1.5', '5000'])
      expect(codeOf(() => parseEngineTuning({ backupCore }))).toBe('XL_ERR_VALIDATION');
    for (const backupReadUs of ['5', 'x', '1.5', '2000000'])
      expect(codeOf(() => parseEngineTuning({ backupCore: '1', backupReadUs }))).toBe('XL_ERR_VALIDATION');
    // The backup thread is the reader: no backup CPU, no reading.
    expect(codeOf(() => parseEngineTuning({ backupReadUs: '100' }))).toBe('XL_ERR_VALIDATION');
    expect(parseEngineTuning({ backupCore: '1', backupReadUs: '100' })).toEqual({
      backupCore: 1,
      backupReadUs: 100,
    });
  });
});

describe('createEngine with the tuning', () => {
  let engine: Engine | undefined;
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
  });

  it.skipIf(skipReason !== '' || !root)(
    'native: the engine thread runs SCHED_FIFO at the asked priority',
    async () => {
      const backupCore = allowedCpus().at(-1)!;
      engine = createEngine('native', silentLog, {
        fifoPriority: 7,
        receive: 'blocking',
        spinUs: 80,
        backupCore,
      });
      expect(engine).toBeInstanceOf(NativeEngine);
      await engine.start({ bindAddress: '127.0.0.1', port: await freeUdpPort() });
      const t = (engine as NativeEngine).thread()!;
      expect(t.fifo).toBe(1);
      expect(t.fifoError).toBeNull();
      // /proc/<tid>/stat: field 40 is rt_priority, 41 the policy (1 = SCHED_FIFO).
      const { readFileSync } = await import('node:fs');
      const stat = readFileSync(`/proc/self/task/${t.tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      expect(Number(fields[39 - 2])).toBe(7);
      expect(Number(fields[40 - 2])).toBe(1);
      // --backup-core: the backup clock runs, pinned where asked.
      expect(t.backupPinned).toBe(1);
      expect(t.backupTid).toBeGreaterThan(0);
    },
  );

  it.skipIf(!root)(
    'js (asked, or the fallback): the pacing worker runs SCHED_FIFO at the asked priority',
    async () => {
      engine = createEngineOfKind('native', {
        addonPath: join(tmpdir(), 'no-such-dir', 'xlane_engine.node'),
        js: { fifoPriority: 5 },
        warn: () => {},
      });
      expect(engine).toBeInstanceOf(JsEngine);
      await engine.start({ bindAddress: '127.0.0.1', port: await freeUdpPort() });
      expect((engine as JsEngine).workerPolicy()).toMatchObject({ fifoPriority: 5 });
      await engine.close();
      engine = createEngine('js', silentLog, { fifoPriority: 6 });
      await engine.start({ bindAddress: '127.0.0.1', port: await freeUdpPort() });
      expect((engine as JsEngine).workerPolicy()).toMatchObject({ fifoPriority: 6 });
    },
  );

  it("js: --spin-us / --max-spin-us reach the pacing worker's margin too (default: learned, up to 100 µs); bad values are refused", () => {
    expect((createEngine('js', silentLog, { spinUs: 80 }) as JsEngine).spinSetting).toEqual({
      auto: false,
      initialNs: 80_000,
      minNs: 80_000,
      maxNs: 80_000,
    });
    expect((createEngine('js', silentLog) as JsEngine).spinSetting).toEqual({
      auto: true,
      initialNs: 30_000,
      minNs: 5_000,
      maxNs: 100_000,
    });
    expect(
      (createEngine('js', silentLog, { spinUs: 'auto', maxSpinUs: 20 }) as JsEngine).spinSetting,
    ).toEqual({
      auto: true,
      initialNs: 20_000,
      minNs: 5_000,
      maxNs: 20_000,
    });
    for (const spinUs of [-1, Number.NaN, 20_000])
      expect(codeOf(() => createJsEngine({ spinUs }))).toBe('XL_ERR_VALIDATION');
    expect(codeOf(() => createJsEngine({ spinUs: 30, maxSpinUs: 50 }))).toBe('XL_ERR_VALIDATION');
    expect(codeOf(() => createJsEngine({ maxSpinUs: -5 }))).toBe('XL_ERR_VALIDATION');
  });
});
