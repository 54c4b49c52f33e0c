// The bench peers' poller for the native engine's 'poll' receive mode: the peer's own thread calls
// engine.poll() back to back, yielding to the event loop every SLICE_NS so the peer still reads its
// requests and the ping-pong's retry timer still fires. Off, it costs nothing.
import { monotonicNs } from '../engine/clock.js';
import type { NativeEngine } from '../engine/native/engine.js';

const SLICE_NS = 10_000_000;

export class Poller {
  private on = false;
  private scheduled = false;

  constructor(private readonly engine: NativeEngine) {}

  set(on: boolean): void {
    this.on = on;
    if (on && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
  }

  private run(): void {
    this.scheduled = false;
    if (!this.on) return;
    const end = monotonicNs() + SLICE_NS;
    do {
      for (let i = 0; i < 32; i++) this.engine.poll();
    } while (this.on && monotonicNs() < end);
    if (this.on) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
  }
}
