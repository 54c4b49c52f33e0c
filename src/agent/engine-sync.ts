// Keeps an Engine in step with the grants: computes the desired lane specs, applies only the
// difference, and remembers what the engine holds (the Engine interface has no getter for it).
//
// Epoch hold: a grant change reaches the lane's sender and its receivers on their own watch
// streams, in no set order. A receiver that moved to the new epoch first would drop the frames its
// sender still released under the old one as `staleEpoch` — legitimate frames, lost (seen in the
// namespace integration test). So a receiver keeps accepting the epoch it held before (and that
// grant's σ_max, if larger) for a short grace, and only then rises to the new one.
import type { WireGrant } from '../controller/views.js';
import type { Engine, ReceiverSpec } from '../engine/types.js';
import {
  desiredLaneSpecs,
  diffLaneSpecs,
  type EngineOp,
  emptySpecs,
  type LaneSpecError,
  type LaneSpecs,
  type SpecContext,
} from './lane-specs.js';

export interface SyncResult {
  ops: EngineOp[];
  /** Lanes left out, or whose engine call failed (their sender is then removed: fail closed). */
  errors: LaneSpecError[];
}

/** How long a receiver keeps accepting its previous grant's epoch after a change (ms). */
export const EPOCH_GRACE_MS = 2_000;

export interface EngineSyncOptions {
  graceMs?: number;
  /** Clock for the grace (ms); default Date.now. */
  now?: () => number;
}

interface EpochHold {
  epoch: number;
  maxPayloadBytes: number;
  untilMs: number;
}

export class EngineSync {
  private current: LaneSpecs = emptySpecs();
  /** Receiver specs as the grants made them at the last apply, before a hold lowered their epoch. */
  private granted = new Map<string, ReceiverSpec>();
  private readonly holds = new Map<string, EpochHold>();
  private readonly graceMs: number;
  private readonly now: () => number;

  constructor(
    private readonly engine: Engine,
    private ctx: SpecContext,
    opts: EngineSyncOptions = {},
  ) {
    this.graceMs = opts.graceMs ?? EPOCH_GRACE_MS;
    this.now = opts.now ?? Date.now;
  }

  /** When the earliest epoch hold ends (on the `now` clock): apply again then to lift it. */
  get nextHoldEnd(): number | undefined {
    let end: number | undefined;
    for (const h of this.holds.values()) if (end === undefined || h.untilMs < end) end = h.untilMs;
    return end;
  }

  /** What the engine holds now (read-only view). */
  get applied(): Readonly<LaneSpecs> {
    return this.current;
  }

  setContext(ctx: SpecContext): void {
    this.ctx = ctx;
  }

  apply(grants: Iterable<WireGrant>): SyncResult {
    const { specs, errors } = desiredLaneSpecs(grants, this.ctx);
    this.holdEpochs(specs.receivers);
    const ops = diffLaneSpecs(specs, this.current);
    for (const op of ops) {
      try {
        this.run(op);
      } catch (err) {
        const laneId = op.op === 'setSender' || op.op === 'setReceiver' ? op.spec.laneId : op.laneId;
        const role = op.op.endsWith('Sender') ? 'sender' : 'receiver';
        errors.push({ laneId, role, message: (err as Error).message });
        // A sender that could not take its new grant must not keep sending on the old one.
        if (op.op === 'setSender') this.forget('sender', laneId);
        if (op.op === 'setReceiver') this.forget('receiver', laneId);
      }
    }
    return { ops, errors };
  }

  /** Lowers, in place, the epoch of receivers whose grant just moved on (see the file comment). */
  private holdEpochs(receivers: Map<string, ReceiverSpec>): void {
    const now = this.now();
    for (const [id, spec] of receivers) {
      const before = this.granted.get(id);
      if (!before || spec.epoch <= before.epoch) continue;
      const h = this.holds.get(id);
      const active = h !== undefined && h.untilMs > now;
      this.holds.set(id, {
        epoch: active ? Math.min(h.epoch, before.epoch) : before.epoch,
        maxPayloadBytes: Math.max(before.maxPayloadBytes, active ? h.maxPayloadBytes : 0),
        untilMs: now + this.graceMs,
      });
    }
    this.granted = new Map(receivers);
    for (const [id, h] of this.holds) {
      const spec = receivers.get(id);
      if (!spec || h.untilMs <= now) {
        this.holds.delete(id);
        continue;
      }
      receivers.set(id, {
        ...spec,
        epoch: Math.min(spec.epoch, h.epoch),
        maxPayloadBytes: Math.max(spec.maxPayloadBytes, h.maxPayloadBytes),
      });
    }
  }

  private run(op: EngineOp): void {
    switch (op.op) {
      case 'removeSender':
        this.current.senders.delete(op.laneId);
        this.engine.removeSender(op.laneId);
        return;
      case 'removeReceiver':
        this.current.receivers.delete(op.laneId);
        this.engine.removeReceiver(op.laneId);
        return;
      case 'setReceiver':
        this.engine.setReceiver(op.spec);
        this.current.receivers.set(op.spec.laneId, op.spec);
        return;
      case 'setSender':
        this.engine.setSender(op.spec);
        this.current.senders.set(op.spec.laneId, op.spec);
        return;
    }
  }

  private forget(role: 'sender' | 'receiver', laneId: string): void {
    const held = role === 'sender' ? this.current.senders : this.current.receivers;
    if (!held.has(laneId)) return;
    held.delete(laneId);
    try {
      if (role === 'sender') this.engine.removeSender(laneId);
      else this.engine.removeReceiver(laneId);
    } catch {
      // already gone in the engine: nothing left to stop
    }
  }
}
