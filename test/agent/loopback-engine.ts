// A fake engine whose calibration lane comes back to itself exactly LOOPBACK_NS after release, so the
// bounds an agent derives from it are known in advance (host-bounds tests).
import { HOST_CALIBRATION_LANE_ID } from '../../src/agent/host-bounds/calibration-lane.js';
import { monotonicNs } from '../../src/engine/clock.js';
import type { SenderSpec } from '../../src/engine/types.js';
import { FakeEngine } from './fake-engine.js';

export const LOOPBACK_NS = 20_000;

/** Emits the calibration lane's heartbeats (one per ms, as the engine's clock would at its
 * period) back to itself, 20 µs after their release; other lanes as the plain fake. */
export class LoopbackEngine extends FakeEngine {
  private seq = 0;
  private beat: NodeJS.Timeout | undefined;

  override setSender(spec: SenderSpec): void {
    super.setSender(spec);
    if (spec.laneId !== HOST_CALIBRATION_LANE_ID || !spec.heartbeat || this.beat) return;
    const payload = new Uint8Array(0);
    this.beat = setInterval(() => {
      if (!this.receivers.has(spec.laneId)) return;
      const sentNs = monotonicNs();
      this.deliver({
        laneId: spec.laneId,
        seq: this.seq++,
        sentNs,
        receivedNs: sentNs + LOOPBACK_NS,
        payload,
        heartbeat: spec.heartbeat!.incarnation,
      });
    }, 1);
  }

  override removeSender(laneId: string): void {
    super.removeSender(laneId);
    if (laneId === HOST_CALIBRATION_LANE_ID) {
      clearInterval(this.beat);
      this.beat = undefined;
    }
  }
}
