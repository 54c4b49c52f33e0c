import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BOOT_ID_PATH, readClockDomain, sharesClock } from '../../src/agent/clock-domain.js';

describe('clock domain', () => {
  it("reads the kernel's boot id: one per running kernel, the same in every namespace", () => {
    const id = readClockDomain();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(readClockDomain(BOOT_ID_PATH)).toBe(id);
  });

  it('says nothing where there is no usable id', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xlane-boot-'));
    expect(readClockDomain(join(dir, 'missing'))).toBeUndefined();
    writeFileSync(join(dir, 'empty'), '\n');
    expect(readClockDomain(join(dir, 'empty'))).toBeUndefined();
    writeFileSync(join(dir, 'long'), 'x'.repeat(65));
    expect(readClockDomain(join(dir, 'long'))).toBeUndefined();
    writeFileSync(join(dir, 'ok'), 'abc\n');
    expect(readClockDomain(join(dir, 'ok'))).toBe('abc');
  });

  it('shares the clock unless both ids are known and differ', () => {
    expect(sharesClock('a', 'a')).toBe(true);
    expect(sharesClock('a', 'b')).toBe(false);
    expect(sharesClock(undefined, 'b')).toBe(true);
    expect(sharesClock('a', undefined)).toBe(true);
  });
});
