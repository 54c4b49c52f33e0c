// The stop signals (testbed up, the benches): SIGINT, SIGTERM and SIGHUP all reach the handler (without one,
// SIGTERM and SIGHUP kill Node before any cleanup), the exit status is the shell's 128 + signo, and
// removing the handler leaves the listener counts as they were.
import { describe, expect, it } from 'vitest';
import { exitStatusFor, onStopSignals, STOP_SIGNALS } from '../../src/util/exit-signals.js';

describe('onStopSignals', () => {
  it('calls the handler with each of SIGINT, SIGTERM and SIGHUP, every time, until removed', () => {
    const before = STOP_SIGNALS.map((s) => process.listenerCount(s));
    const seen: string[] = [];
    const off = onStopSignals((sig) => seen.push(sig));
    try {
      expect(STOP_SIGNALS.map((s) => process.listenerCount(s))).toEqual(before.map((n) => n + 1));
      // process.emit runs the listeners as a delivered signal would, without signalling the worker.
      for (const s of [...STOP_SIGNALS, 'SIGTERM'] as const) process.emit(s, s);
      expect(seen).toEqual(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGTERM']);
    } finally {
      off();
    }
    expect(STOP_SIGNALS.map((s) => process.listenerCount(s))).toEqual(before);
  });

  it('exit status 128 + signal number', () => {
    expect(STOP_SIGNALS.map(exitStatusFor)).toEqual([130, 143, 129]);
  });
});
