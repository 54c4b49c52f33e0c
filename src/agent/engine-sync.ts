// Keeps an Engine in step with the grants: computes the desired lane specs, applies only the
// difference, and remembers what the engine holds (the Engine interface has no getter for it).
import type { WireGrant } from '../controller/views.js';
import type { Engine } from '../engine/types.js';
import { isXlaneError } from '../errors.js';
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

export class EngineSync {
  private current: LaneSpecs = emptySpecs();

  constructor(
    private readonly engine: Engine,
    private ctx: SpecContext,
  ) {}

  /** What the engine holds now (read-only view). */
  get applied(): Readonly<LaneSpecs> {
    return this.current;
  }

  setContext(ctx: SpecContext): void {
    this.ctx = ctx;
  }

  apply(grants: Iterable<WireGrant>): SyncResult {
    const { specs, errors } = desiredLaneSpecs(grants, this.ctx);
    const ops = diffLaneSpecs(specs, this.current);
    for (const op of ops) {
      try {
        this.run(op);
      } catch (err) {
        const laneId = op.op === 'setSender' || op.op === 'setReceiver' ? op.spec.laneId : op.laneId;
        const role = op.op.endsWith('Sender') ? 'sender' : 'receiver';
        errors.push({
          laneId,
          role,
          message: (err as Error).message,
          ...(isXlaneError(err) ? { code: err.code } : {}),
        });
        // A sender that could not take its new grant must not keep sending on the old one.
        if (op.op === 'setSender') this.forget('sender', laneId);
        if (op.op === 'setReceiver') this.forget('receiver', laneId);
      }
    }
    return { ops, errors };
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
