// The lane lifecycle: admission, release and topology changes driven through the allocator, the
// per-host watch versions, and the pending → live gate of the safe change order. No HTTP and no
// sockets here: the service wires `onUpdate` to the watch hub and the routes call these methods.
//
// Every mutation follows one pattern: the allocator computes (pure, in memory), the whole result is
// written to the store in one transaction, and only then are the in-memory mirror updated and the
// watch updates pushed. If the write fails the allocator has already moved, so it is rebuilt from
// the mirror (what the store last took) before the error is reported: memory never diverges from
// disk, even when the store can no longer be read either.
import { EventEmitter } from 'node:events';
import type { Allocator, AllocatorOptions, GrantChange, LaneRequest, PersistedLane } from '../alloc/types.js';
import { AGENT_PROTOCOLS, protocolRefusal, UNNAMED_PROTOCOL } from '../control-protocol.js';
import { XlaneError } from '../errors.js';
import type { LatencyRange, TopologySpec } from '../topology/spec.js';
import { ChangeSet } from './change-set.js';
import { ackersFor, hostsOf } from './concern.js';
import {
  carryMeasuredBounds,
  checkLatencyRange,
  HOST_CALIBRATION_WIRE_ID,
  type HostBoundsMeasurement,
  type HostBoundsRecord,
  hostBoundsView,
  withHostBounds,
} from './host-bounds.js';
import type { HostRecord, LaneStore, StoredLane, StoreMutation } from './store.js';
import type {
  AgentVersionCount,
  CloseResult,
  HostGrants,
  HostLatencyResult,
  HostUpdate,
  HostView,
  LaneView,
  OpenResult,
  TopologyResult,
  WireGrant,
} from './views.js';

export type * from './views.js';

export interface AllocatorFactory {
  create(spec: TopologySpec, opts?: AllocatorOptions): Allocator;
  restore(spec: TopologySpec, lanes: PersistedLane[], epoch: number, opts?: AllocatorOptions): Allocator;
}

export interface LifecycleOptions {
  /** Topology to start from when the store has none. */
  topology?: TopologySpec;
  /** The --topology file that could not be read or parsed, instead of `topology`: the start fails
   * with its error when the store has none, and only warns when the store has one. */
  topologyFileError?: { file: string; error: XlaneError };
  allocator?: AllocatorOptions;
  /** Structured log of mutations and warnings (pino-compatible subset). */
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Period of retrying an agent's ack the store refused (default 1 s). */
  ackRetryMs?: number;
}

export class Lifecycle {
  private lanes = new Map<string, StoredLane>();
  private hostRecords = new Map<string, HostRecord>();
  private nextLaneId = 1;
  private alloc: Allocator;
  private readonly events = new EventEmitter();
  private connectivity: (host: string) => boolean = () => false;
  private liveWaits = 0;
  /** Topology and epoch as last stored (the lanes: `lanes`), for rebuilding the allocator. */
  private committed!: { topology: TopologySpec; epoch: number };
  /** Acks the store could not take, by host: the agent will not send them again. */
  private readonly unstoredAcks = new Map<string, number>();
  private ackRetry: NodeJS.Timeout | undefined;
  private closed = false;
  /** The --topology given at start when the store already held a different one. */
  readonly topologyMismatch: boolean;

  constructor(
    private readonly store: LaneStore,
    private readonly factory: AllocatorFactory,
    private readonly opts: LifecycleOptions = {},
  ) {
    this.events.setMaxListeners(0);
    const snap = store.load();
    const fileError = opts.topologyFileError;
    if (snap.topology && fileError) {
      opts.log?.warn(
        { file: fileError.file, code: fileError.error.code, error: fileError.error.message },
        'cannot use the --topology file; starting with the topology in the state file',
      );
    }
    if (snap.topology) {
      // Bounds measured by agents are not a difference from the file: compare with them carried over.
      const records = new Map(snap.hosts.map((h) => [h.name, h]));
      const given = opts.topology && carryMeasuredBounds(opts.topology, records).spec;
      this.topologyMismatch = given !== undefined && JSON.stringify(given) !== JSON.stringify(snap.topology);
      if (this.topologyMismatch) {
        opts.log?.warn(
          { stored: snap.topology.name, given: opts.topology?.name },
          'the store holds a topology that differs from --topology; using the stored one (replace it with PUT /v1/topology)',
        );
      }
      this.alloc = this.restoreFrom(snap.topology, snap.lanes, snap.epoch);
    } else {
      if (fileError) throw fileError.error;
      if (!opts.topology) {
        throw new XlaneError('XL_ERR_TOPOLOGY', 'no topology: the store is empty and none was given');
      }
      this.topologyMismatch = false;
      this.alloc = factory.create(opts.topology, opts.allocator);
      store.apply({ topology: opts.topology, epoch: this.alloc.epoch, nextLaneId: snap.nextLaneId });
    }
    this.mirror();
  }

  get epoch(): number {
    return this.alloc.epoch;
  }

  get topology(): TopologySpec {
    return this.alloc.topology;
  }

  /** Stops retrying acks the store could not take (the store closes next). */
  close(): void {
    this.closed = true;
    clearTimeout(this.ackRetry);
  }

  /** Tells the lifecycle which hosts have a live watch connection (for host views). */
  setConnectivity(fn: (host: string) => boolean): void {
    this.connectivity = fn;
  }

  onUpdate(fn: (u: HostUpdate) => void): () => void {
    this.events.on('update', fn);
    return () => this.events.off('update', fn);
  }

  /** Fires with 'live' when a pending lane may send, 'gone' when a lane is closed or revoked. */
  onLaneState(fn: (laneId: string, state: 'live' | 'gone') => void): () => void {
    this.events.on('lane', fn);
    return () => this.events.off('lane', fn);
  }

  ports() {
    return this.alloc.ports();
  }

  /** How many lanes are admitted, without building their views (GET /v1/health is polled). */
  get laneCount(): number {
    return this.lanes.size;
  }

  listLanes(): LaneView[] {
    return [...this.lanes.values()].map((l) => this.view(l));
  }

  getLane(id: string): LaneView {
    const lane = this.lanes.get(id);
    if (!lane) throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no lane ${id}`, { laneId: id });
    return this.view(lane);
  }

  hosts(): HostView[] {
    return this.topology.hosts.map((h) => this.hostView(this.record(h.name)));
  }

  host(name: string): HostView {
    this.requireHost(name);
    return this.hostView(this.record(name));
  }

  /** The topology's registered hosts by what their agents said at their last registration: in a
   * rolling upgrade, how far it got (GET /v1/health, which is polled: no views are built). */
  agentVersions(): AgentVersionCount[] {
    const groups = new Map<string, AgentVersionCount>();
    for (const { name } of this.topology.hosts) {
      const rec = this.hostRecords.get(name);
      if (!rec?.registered) continue;
      const key = `${rec.protocol ?? ''}/${rec.agentVersion ?? ''}`;
      const group = groups.get(key);
      if (group) group.hosts++;
      else
        groups.set(key, {
          ...(rec.agentVersion !== undefined ? { agentVersion: rec.agentVersion } : {}),
          ...(rec.protocol !== undefined ? { protocol: rec.protocol } : {}),
          hosts: 1,
        });
    }
    return [...groups.values()].sort(
      (a, b) =>
        (a.protocol ?? 0) - (b.protocol ?? 0) ||
        (a.agentVersion ?? '').localeCompare(b.agentVersion ?? '', 'en', { numeric: true }),
    );
  }

  grantsFor(host: string): HostGrants {
    this.requireHost(host);
    const grants = [...this.lanes.values()]
      .filter((l) => hostsOf(l.grant).includes(host))
      .map((l) => this.wire(l));
    return { host, version: this.record(host).version, epoch: this.epoch, grants };
  }

  /** XL_ERR_VERSION for an agent of a protocol this controller does not serve (nothing stored). */
  registerHost(
    name: string,
    info: { agentVersion?: string; protocol?: number; engine?: string; clockDomain?: string },
  ): HostView {
    this.requireHost(name);
    const refusal = protocolRefusal(name, info, AGENT_PROTOCOLS);
    if (refusal) throw refusal;
    const before = this.record(name);
    const rec: HostRecord = { ...before, registered: true, registeredAt: new Date().toISOString() };
    // Both describe the agent registering now: one that says no version (an older release, a
    // registration by hand) must not be listed under the version of the agent before it.
    if (info.agentVersion !== undefined) rec.agentVersion = info.agentVersion;
    else delete rec.agentVersion;
    rec.protocol = info.protocol ?? UNNAMED_PROTOCOL;
    if (info.engine !== undefined) rec.engine = info.engine;
    if (info.clockDomain !== undefined) rec.clockDomain = info.clockDomain;
    const cs = new ChangeSet();
    // A new clock domain (first said, or the host rebooted) reaches the receivers of the host's
    // lanes, which measure latency only on a clock they share (WireGrant.senderClockDomain).
    if (rec.clockDomain !== before.clockDomain) {
      for (const lane of this.lanes.values())
        if (lane.grant.sender === name) cs.addGrant(this.wire(lane, rec));
    }
    const bumped = this.bump(cs, undefined, new Map([[name, rec]]));
    const mine = bumped.get(name) ?? rec;
    bumped.set(name, mine);
    this.commit({ putHosts: [...bumped.values()] }, cs, [], false);
    this.opts.log?.info(
      {
        host: name,
        agentVersion: info.agentVersion,
        protocol: rec.protocol,
        engine: info.engine,
        clockDomain: info.clockDomain,
      },
      'host registered',
    );
    return this.hostView(mine);
  }

  openLane(request: LaneRequest): OpenResult {
    if (request.name !== undefined && [...this.lanes.values()].some((l) => l.request.name === request.name)) {
      throw new XlaneError('XL_ERR_DUPLICATE', `a lane named ${request.name} already exists`, {
        name: request.name,
      });
    }
    if (this.nextLaneId >= HOST_CALIBRATION_WIRE_ID) {
      throw new XlaneError('XL_ERR_ADMISSION_REJECTED', 'lane ids exhausted', {
        reason: 'ids',
        nextLaneId: this.nextLaneId,
      });
    }
    const id = `L${this.nextLaneId}`;
    const r = this.guard(() => this.alloc.admit(id, request));
    if (!r.ok) throw r.error;

    const cs = new ChangeSet();
    const putLanes = this.applyChanges(r.changed, cs);
    const provisional: StoredLane = {
      id,
      request,
      grant: r.grant,
      state: 'pending',
      createdAt: new Date().toISOString(),
      waitFor: {},
    };
    cs.addGrant(this.wire(provisional));
    const bumped = this.bump(cs);
    // The gate: every registered host that must hold a change has to ACK the version carrying it.
    const waitFor: Record<string, number> = {};
    // The new lane's own receivers too: a receiver that does not yet know the lane would drop
    // its frames as coming from an unknown lane.
    for (const h of [...r.changed.flatMap(ackersFor), ...r.grant.receivers.map((x) => x.host)]) {
      const rec = bumped.get(h);
      if (rec?.registered && rec.ackedVersion < rec.version) waitFor[h] = rec.version;
    }
    const lane: StoredLane = {
      ...provisional,
      state: Object.keys(waitFor).length === 0 ? 'live' : 'pending',
      waitFor,
    };
    cs.addGrant(this.wire(lane));
    this.commit(
      {
        epoch: r.epoch,
        nextLaneId: this.nextLaneId + 1,
        putLanes: [...putLanes, lane],
        putHosts: [...bumped.values()],
      },
      cs,
      lane.state === 'live' ? [[id, 'live']] : [],
    );
    this.opts.log?.info(
      { laneId: id, name: request.name, state: lane.state, waitFor, changed: r.changed.map((c) => c.laneId) },
      'lane admitted',
    );
    return { lane: this.view(lane), changed: r.changed };
  }

  closeLane(id: string): CloseResult {
    const lane = this.lanes.get(id);
    if (!lane) throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no lane ${id}`, { laneId: id });
    const r = this.guard(() => this.alloc.release(id));
    const cs = new ChangeSet();
    const putLanes = this.applyChanges(r.changed, cs);
    cs.addRemoved(lane.grant);
    const bumped = this.bump(cs);
    this.commit({ epoch: r.epoch, deleteLanes: [id], putLanes, putHosts: [...bumped.values()] }, cs, [
      [id, 'gone'],
    ]);
    this.opts.log?.info({ laneId: id, changed: r.changed.map((c) => c.laneId) }, 'lane closed');
    return { removed: id, changed: r.changed, epoch: r.epoch };
  }

  /** A host keeps bounds its agent measured unless the new spec declares other ones for it. */
  replaceTopology(spec: TopologySpec, force = false): TopologyResult {
    const carried = carryMeasuredBounds(spec, this.hostRecords);
    const edits = new Map<string, HostRecord>();
    for (const name of carried.cleared) {
      const { bounds: _gone, ...rest } = this.record(name);
      edits.set(name, rest);
    }
    return this.replaceWith(carried.spec, force, edits);
  }

  /** New send / receive bounds for one host (PUT /v1/hosts/:name/latency): a topology replacement,
   * so every grant through the host is re-computed and one that would break refuses the change
   * (XL_ERR_TOPOLOGY_CONFLICT, nothing changed) unless `force` revokes it. */
  setHostBounds(
    name: string,
    b: { send: LatencyRange; recv: LatencyRange; measured?: HostBoundsMeasurement },
    force = false,
  ): HostLatencyResult {
    this.requireHost(name);
    checkLatencyRange(b.send, 'body/sendLatency');
    checkLatencyRange(b.recv, 'body/recvLatency');
    const rec = this.record(name);
    const h = this.topology.hosts.find((x) => x.name === name)!;
    const bounds: HostBoundsRecord = {
      source: b.measured ? 'measured' : 'set',
      at: new Date().toISOString(),
      send: { minNs: b.send.minNs, maxNs: b.send.maxNs },
      recv: { minNs: b.recv.minNs, maxNs: b.recv.maxNs },
      // A second measurement still remembers what the file said.
      declared: rec.bounds?.declared ?? { send: h.send, recv: h.recv },
      ...(b.measured ? { measured: b.measured } : {}),
    };
    const spec = withHostBounds(this.topology, name, bounds.send, bounds.recv);
    const result = this.replaceWith(spec, force, new Map([[name, { ...rec, bounds }]]));
    this.opts.log?.info(
      { host: name, source: bounds.source, send: bounds.send, recv: bounds.recv },
      'host bounds replaced',
    );
    return { ...result, host: this.host(name) };
  }

  /** Back to the bounds the topology declared (DELETE /v1/hosts/:name/latency). */
  clearHostBounds(name: string, force = false): HostLatencyResult {
    this.requireHost(name);
    const { bounds, ...rest } = this.record(name);
    if (!bounds) return { epoch: this.epoch, changed: [], revoked: [], host: this.host(name) };
    const spec = withHostBounds(this.topology, name, bounds.declared.send, bounds.declared.recv);
    const result = this.replaceWith(spec, force, new Map([[name, rest]]));
    return { ...result, host: this.host(name) };
  }

  /** `hostEdits`: host records to write with the change (bounds provenance), before the bump. */
  private replaceWith(
    spec: TopologySpec,
    force: boolean,
    hostEdits: Map<string, HostRecord>,
  ): TopologyResult {
    const r = this.guard(() => this.alloc.replaceTopology(spec, { force }));
    if (!r.ok) throw r.error;
    const cs = new ChangeSet();
    const revoked = new Set(r.revoked);
    const putLanes = this.applyChanges(
      r.changed.filter((c) => !revoked.has(c.laneId)),
      cs,
    );
    for (const id of revoked) {
      const lane = this.lanes.get(id);
      if (lane) cs.addRemoved(lane.grant);
    }
    const present = new Set(spec.hosts.map((h) => h.name));
    // A host that leaves keeps only its watch version, so that if it comes back its versions go
    // on from there: an agent that still holds version 7 must never see a new version 1.
    const leaving = [...this.hostRecords.values()]
      .filter((h) => !present.has(h.name) && !isFloor(h))
      .map(
        (h): HostRecord => ({ name: h.name, registered: false, version: h.version, ackedVersion: h.version }),
      );
    // A host that left has no agent to wait for: pending lanes stop waiting on it.
    const lanesById = new Map(putLanes.map((l) => [l.id, l]));
    const events: [string, 'live' | 'gone'][] = [...revoked].map((id) => [id, 'gone']);
    for (const lane of this.lanes.values()) {
      if (lane.state !== 'pending' || revoked.has(lane.id)) continue;
      const base = lanesById.get(lane.id) ?? lane;
      const waitFor = Object.fromEntries(Object.entries(base.waitFor).filter(([h]) => present.has(h)));
      if (Object.keys(waitFor).length === Object.keys(base.waitFor).length) continue;
      const next: StoredLane = { ...base, waitFor, state: Object.keys(waitFor).length ? 'pending' : 'live' };
      lanesById.set(lane.id, next);
      cs.addGrant(this.wire(next));
      if (next.state === 'live') events.push([lane.id, 'live']);
    }
    const bumped = this.bump(cs, present, hostEdits);
    const putHosts = new Map([...hostEdits].filter(([h]) => present.has(h)));
    for (const [h, rec] of bumped) putHosts.set(h, rec);
    for (const rec of leaving) putHosts.set(rec.name, rec);
    this.commit(
      {
        topology: spec,
        epoch: r.epoch,
        deleteLanes: [...revoked],
        putLanes: [...lanesById.values()],
        putHosts: [...putHosts.values()],
      },
      cs,
      events,
    );
    this.opts.log?.info(
      { topology: spec.name, force, changed: r.changed.map((c) => c.laneId), revoked: r.revoked },
      'topology replaced',
    );
    return { epoch: r.epoch, changed: r.changed, revoked: r.revoked };
  }

  /** An agent acknowledged every update up to `version`; pending lanes whose gate opens go live. */
  ack(host: string, version: number): HostView {
    this.requireHost(host);
    const rec = this.record(host);
    if (!Number.isInteger(version) || version < 0 || version > rec.version) {
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `ack for version ${version}, but ${host} is at ${rec.version}`,
        {
          host,
          version,
          current: rec.version,
        },
      );
    }
    if (version <= rec.ackedVersion) {
      this.ackStored(host, rec.ackedVersion);
      return this.hostView(rec);
    }
    const acked: HostRecord = { ...rec, ackedVersion: version };
    const cs = new ChangeSet();
    const putLanes: StoredLane[] = [];
    const events: [string, 'live'][] = [];
    for (const lane of this.lanes.values()) {
      const need = lane.waitFor[host];
      if (lane.state !== 'pending' || need === undefined || need > version) continue;
      const { [host]: _done, ...rest } = lane.waitFor;
      const next: StoredLane = {
        ...lane,
        waitFor: rest,
        state: Object.keys(rest).length ? 'pending' : 'live',
      };
      putLanes.push(next);
      if (next.state === 'live') {
        cs.addGrant(this.wire(next));
        events.push([lane.id, 'live']);
      }
    }
    const bumped = this.bump(cs, undefined, new Map([[host, acked]]));
    if (!bumped.has(host)) bumped.set(host, acked);
    try {
      this.commit({ putLanes, putHosts: [...bumped.values()] }, cs, events, false);
    } catch (err) {
      if (err instanceof XlaneError && err.code === 'XL_ERR_STORE') this.keepAck(host, version);
      throw err;
    }
    this.ackStored(host, version);
    for (const [id] of events) this.opts.log?.info({ laneId: id, ackedBy: host, version }, 'lane live');
    return this.hostView(bumped.get(host) ?? acked);
  }

  /** Resolves when the lane is live, or with its current (pending) view after timeoutMs or once
   * `signal` aborts (the client that asked went away: nobody is left to answer). */
  waitLive(id: string, timeoutMs: number, signal?: AbortSignal): Promise<LaneView> {
    const lane = this.getLane(id);
    if (lane.state === 'live' || signal?.aborted) return Promise.resolve(lane);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', done);
        this.liveWaits--;
        try {
          resolve(this.getLane(id));
        } catch (err) {
          reject(err);
        }
      };
      this.liveWaits++;
      const timer = setTimeout(done, timeoutMs);
      const off = this.onLaneState((laneId) => {
        if (laneId === id) done();
      });
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** waitLive calls not yet resolved. */
  get pendingWaits(): number {
    return this.liveWaits;
  }

  /** An agent sends an ack once: one the store refused (full, read-only) is applied again every
   * second until it is stored, or else a lane waiting for it stays pending until the host's next
   * update, however long after the store recovered that comes. */
  private keepAck(host: string, version: number): void {
    const first = this.unstoredAcks.size === 0;
    this.unstoredAcks.set(host, Math.max(version, this.unstoredAcks.get(host) ?? 0));
    if (first) this.opts.log?.warn({ host, version }, 'ack not stored: retrying it until the store takes it');
    this.scheduleAckRetry();
  }

  private ackStored(host: string, version: number): void {
    const kept = this.unstoredAcks.get(host);
    if (kept === undefined || kept > version) return;
    this.unstoredAcks.delete(host);
    this.opts.log?.info({ host, version: kept }, 'a retried ack is stored');
  }

  private scheduleAckRetry(): void {
    if (this.closed || this.ackRetry !== undefined || this.unstoredAcks.size === 0) return;
    this.ackRetry = setTimeout(() => {
      this.ackRetry = undefined;
      for (const [host, version] of [...this.unstoredAcks]) {
        try {
          this.ack(host, version);
        } catch (err) {
          // Still not stored: kept by ack(). Anything else (the host left) has nothing to retry.
          if (!(err instanceof XlaneError && err.code === 'XL_ERR_STORE')) this.unstoredAcks.delete(host);
        }
      }
      this.scheduleAckRetry();
    }, this.opts.ackRetryMs ?? 1000);
    this.ackRetry.unref();
  }

  /** An allocator that throws instead of answering (a bug) may be half-way through a change:
   * rebuild it so the next call starts from the committed state. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof XlaneError) throw err;
      this.rollback();
      throw new XlaneError('XL_ERR_INTERNAL', `allocator failure: ${(err as Error).message}`, undefined, {
        cause: err,
      });
    }
  }

  /** The allocator as of the last stored change, from the mirror rather than the store: after a
   * failed write the store may fail reads too (an I/O error), and an allocator left moved would
   * hold a lane nobody was granted, and its id, until a restart. */
  private rollback(): void {
    this.alloc = this.restoreFrom(this.committed.topology, [...this.lanes.values()], this.committed.epoch);
  }

  private applyChanges(changes: GrantChange[], cs: ChangeSet): StoredLane[] {
    const out: StoredLane[] = [];
    for (const c of changes) {
      const lane = this.lanes.get(c.laneId);
      if (!lane) continue;
      const next = { ...lane, grant: c.after };
      out.push(next);
      // Hosts that dropped out of a re-routed tree still need to hear about it.
      cs.addGrant(this.wire(next), hostsOf(c.before));
    }
    return out;
  }

  /** New records, version + 1, for every host in the change set that is (still) in the topology. */
  private bump(
    cs: ChangeSet,
    present?: Set<string>,
    base = new Map<string, HostRecord>(),
  ): Map<string, HostRecord> {
    const inTopology = present ?? new Set(this.topology.hosts.map((h) => h.name));
    const out = new Map<string, HostRecord>();
    for (const h of cs.hosts()) {
      if (!inTopology.has(h)) continue;
      const rec = base.get(h) ?? this.record(h);
      out.set(h, { ...rec, version: rec.version + 1 });
    }
    return out;
  }

  /** `allocatorMoved`: false for changes the allocator takes no part in (registration, acks),
   * which need no rebuild when refused; an ack is retried every second while the disk is full. */
  private commit(
    m: StoreMutation,
    cs: ChangeSet,
    events: [string, 'live' | 'gone'][],
    allocatorMoved = true,
  ): void {
    try {
      this.store.apply(m);
    } catch (err) {
      if (allocatorMoved) this.rollback();
      throw err;
    }
    this.mirrorMutation(m);
    const inTopology = new Set(this.topology.hosts.map((h) => h.name));
    for (const host of cs.hosts()) {
      const rec = this.hostRecords.get(host);
      // A host that left has only its version floor: no agent of it is told anything.
      if (!rec || !inTopology.has(host)) continue;
      this.events.emit('update', {
        host,
        version: rec.version,
        epoch: this.epoch,
        grants: [...(cs.grants.get(host)?.values() ?? [])],
        removed: [...(cs.removed.get(host) ?? [])],
      } satisfies HostUpdate);
    }
    for (const [id, state] of events) this.events.emit('lane', id, state);
  }

  /** The store checked the shape of what it read; whatever the allocator still cannot rebuild from
   * it (a value it would never have granted) is a bad store, reported as one, not a crash. */
  private restoreFrom(spec: TopologySpec, lanes: StoredLane[], epoch: number): Allocator {
    const persisted = lanes.map((l) => ({ laneId: l.id, request: l.request, grant: l.grant }));
    try {
      return this.factory.restore(spec, persisted, epoch, this.opts.allocator);
    } catch (err) {
      if (err instanceof XlaneError) throw err;
      throw new XlaneError(
        'XL_ERR_STORE',
        `the stored topology ${spec.name} and its ${lanes.length} lane(s) cannot be restored: ${(err as Error).message}`,
        { topology: spec.name },
        { cause: err },
      );
    }
  }

  private mirror(): void {
    const snap = this.store.load();
    this.lanes = new Map(snap.lanes.map((l) => [l.id, l]));
    this.hostRecords = new Map(snap.hosts.map((h) => [h.name, h]));
    this.nextLaneId = snap.nextLaneId;
    this.committed = { topology: snap.topology ?? this.alloc.topology, epoch: snap.epoch };
  }

  private mirrorMutation(m: StoreMutation): void {
    for (const id of m.deleteLanes ?? []) this.lanes.delete(id);
    for (const l of m.putLanes ?? []) this.lanes.set(l.id, l);
    for (const h of m.deleteHosts ?? []) this.hostRecords.delete(h);
    for (const h of m.putHosts ?? []) this.hostRecords.set(h.name, h);
    if (m.nextLaneId !== undefined) this.nextLaneId = m.nextLaneId;
    if (m.topology !== undefined) this.committed.topology = m.topology;
    if (m.epoch !== undefined) this.committed.epoch = m.epoch;
  }

  /** A lane's grant as its hosts see it, with what the sender's agent said of its clock. */
  private wire(lane: StoredLane, sender = this.record(lane.grant.sender)): WireGrant {
    const g: WireGrant = { ...lane.grant, state: lane.state };
    if (sender.clockDomain !== undefined) g.senderClockDomain = sender.clockDomain;
    return g;
  }

  private record(name: string): HostRecord {
    return this.hostRecords.get(name) ?? { name, registered: false, version: 0, ackedVersion: 0 };
  }

  private requireHost(name: string): void {
    if (!this.topology.hosts.some((h) => h.name === name)) {
      throw new XlaneError('XL_ERR_UNKNOWN_HOST', `no host ${name} in topology ${this.topology.name}`, {
        host: name,
      });
    }
  }

  private hostView(rec: HostRecord): HostView {
    const { bounds, ...rest } = rec;
    return {
      ...rest,
      connected: this.connectivity(rec.name),
      bounds: hostBoundsView(this.topology, rec.name, bounds),
    };
  }

  private view(lane: StoredLane): LaneView {
    const v: LaneView = {
      id: lane.id,
      state: lane.state,
      request: lane.request,
      grant: this.wire(lane),
      pendingHosts: Object.keys(lane.waitFor),
      createdAt: lane.createdAt,
    };
    if (lane.request.name !== undefined) v.name = lane.request.name;
    return v;
  }
}

/** The record a host keeps after it left the topology: its version, nothing of its agent. */
function isFloor(h: HostRecord): boolean {
  return Object.keys(h).length === 4 && !h.registered && h.ackedVersion === h.version;
}
