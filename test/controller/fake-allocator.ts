// A small stand-in for the real allocator, behind the same Allocator interface, for unit tests of
// the lifecycle: every lane towards a receiver widens the window of the others towards it, so an
// admission predictably changes existing grants (the case the safe change order is about).
import type {
  AdmitOk,
  Allocator,
  Grant,
  GrantChange,
  LaneRequest,
  PersistedLane,
  PortReport,
  Rejected,
  ReleaseResult,
  ReplaceTopologyOk,
} from '../../src/alloc/types.js';
import { wireBytes } from '../../src/alloc/wire.js';
import { XlaneError } from '../../src/errors.js';
import type { TopologySpec } from '../../src/topology/spec.js';

const STEP_NS = 1000;

export class FakeAllocator implements Allocator {
  topology: TopologySpec;
  epoch: number;
  private lanes = new Map<string, { request: LaneRequest; grant: Grant }>();
  /** Lanes allowed per receiver before admission is refused. */
  maxPerReceiver = 3;

  constructor(spec: TopologySpec, epoch = 0, persisted: PersistedLane[] = []) {
    this.topology = spec;
    this.epoch = epoch;
    for (const l of persisted) this.lanes.set(l.laneId, { request: l.request, grant: l.grant });
  }

  admit(laneId: string, request: LaneRequest): AdmitOk | Rejected {
    const names = new Set(this.topology.hosts.map((h) => h.name));
    for (const h of [request.sender, ...request.receivers]) {
      if (!names.has(h)) return { ok: false, error: new XlaneError('XL_ERR_UNKNOWN_HOST', `no host ${h}`) };
    }
    for (const r of request.receivers) {
      if (this.towards(r).length >= this.maxPerReceiver) {
        return {
          ok: false,
          error: new XlaneError('XL_ERR_ADMISSION_REJECTED', `port s1→${r} full`, {
            bottleneck: { from: 's1', to: r },
            reason: 'share',
          }),
        };
      }
    }
    this.epoch += 1;
    this.lanes.set(laneId, { request, grant: this.makeGrant(laneId, request) });
    const changed = this.recompute(laneId);
    return { ok: true, grant: this.lanes.get(laneId)!.grant, changed, epoch: this.epoch };
  }

  release(laneId: string): ReleaseResult {
    if (!this.lanes.delete(laneId)) throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no lane ${laneId}`);
    this.epoch += 1;
    return { changed: this.recompute(), epoch: this.epoch };
  }

  replaceTopology(spec: TopologySpec, opts?: { force?: boolean }): ReplaceTopologyOk | Rejected {
    const names = new Set(spec.hosts.map((h) => h.name));
    const broken = [...this.lanes].filter(
      ([, l]) => ![l.request.sender, ...l.request.receivers].every((h) => names.has(h)),
    );
    if (broken.length && !opts?.force) {
      return {
        ok: false,
        error: new XlaneError('XL_ERR_TOPOLOGY_CONFLICT', 'lanes would break', {
          lanes: broken.map(([id]) => id),
        }),
      };
    }
    for (const [id] of broken) this.lanes.delete(id);
    this.topology = spec;
    this.epoch += 1;
    return { ok: true, changed: this.recompute(), revoked: broken.map(([id]) => id), epoch: this.epoch };
  }

  grant(laneId: string): Grant | undefined {
    return this.lanes.get(laneId)?.grant;
  }
  request(laneId: string): LaneRequest | undefined {
    return this.lanes.get(laneId)?.request;
  }
  grants(): Grant[] {
    return [...this.lanes.values()].map((l) => l.grant);
  }
  ports(): PortReport[] {
    return [];
  }

  private towards(host: string): string[] {
    return [...this.lanes].filter(([, l]) => l.request.receivers.includes(host)).map(([id]) => id);
  }

  private makeGrant(laneId: string, request: LaneRequest): Grant {
    const wb = wireBytes(request.maxPayloadBytes);
    return {
      laneId,
      epoch: this.epoch,
      sender: request.sender,
      maxPayloadBytes: request.maxPayloadBytes,
      minPeriodNs: request.minPeriodNs,
      policy: request.policy ?? 'reject',
      dscp: 46,
      priority: 6,
      srcPort: 40000 + Number(laneId.replace(/\D/g, '')),
      dstPort: 7400,
      wireBytes: wb,
      rateBps: (wb * 8 * 1e9) / request.minPeriodNs,
      tree: request.receivers.map((r) => ({ from: 's1', to: r })),
      receivers: request.receivers.map((host) => ({
        host,
        path: [request.sender, 's1', host],
        lambdaMinNs: 2000,
        lambdaMaxNs: 2000,
        jitterNs: 0,
      })),
    };
  }

  /** Windows: λ_max = 2 µs + 1 µs per lane towards the receiver. Reports every other lane that moved. */
  private recompute(except?: string): GrantChange[] {
    const changed: GrantChange[] = [];
    for (const [id, l] of this.lanes) {
      const receivers = l.grant.receivers.map((r) => {
        const max = 2000 + STEP_NS * this.towards(r.host).length;
        return { ...r, lambdaMaxNs: max, jitterNs: max - r.lambdaMinNs };
      });
      const after: Grant = { ...l.grant, receivers };
      if (JSON.stringify(after.receivers) !== JSON.stringify(l.grant.receivers)) {
        const updated = { ...after, epoch: this.epoch };
        if (id !== except) changed.push({ laneId: id, before: l.grant, after: updated, reasons: ['window'] });
        l.grant = updated;
      }
    }
    return changed;
  }
}

export const fakeFactory = {
  create: (spec: TopologySpec) => new FakeAllocator(spec),
  restore: (spec: TopologySpec, lanes: PersistedLane[], epoch: number) =>
    new FakeAllocator(spec, epoch, lanes),
};

/** Three hosts on one switch, in the normalised shape (the fake never looks at rates). */
export function threeHostSpec(hosts = ['h1', 'h2', 'h3']): TopologySpec {
  return {
    name: 'fake-3',
    mtuBytes: 1500,
    maxFrameBytes: 1538,
    expressDscp: 46,
    expressPort: 7400,
    hosts: hosts.map((name) => ({
      name,
      nicRateBps: 1e9,
      send: { minNs: 1000, maxNs: 5000 },
      recv: { minNs: 1000, maxNs: 5000 },
      bufferBytes: 262144,
    })),
    switches: [{ name: 's1', forwarding: { minNs: 500, maxNs: 2000 }, portBufferBytes: 1048576 }],
    links: hosts.map((h) => ({ a: h, b: 's1', rateBps: 1e9, propagationNs: 100, expressShare: 0.1 })),
  };
}
