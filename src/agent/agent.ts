import type { LaneRequest } from '../alloc/types.js';
import type { ControllerClient } from '../client/controller-client.js';
import {
  CONTROL_PROTOCOL,
  PACKAGE_VERSION,
  refusedAsUnknownField,
  UNNAMED_PROTOCOL,
} from '../control-protocol.js';
import type { WireGrant } from '../controller/views.js';
import { RealtimeOffset, type RealtimeOffsetMeasurement } from '../engine/clock.js';
import { measureRealtimeOffsetOffThread } from '../engine/clock-off-thread.js';
import { JsEngine } from '../engine/js/engine.js';
import { NativeEngine } from '../engine/native/engine.js';
import { spinStatsOf } from '../engine/native/select.js';
import type { DeliveryView, Engine, LaneCounters, SendOutcome } from '../engine/types.js';
import { type ErrorCode, isXlaneError, XlaneError } from '../errors.js';
import { FD_LANE_PREFIX, type FdGroupSpec, resolveFdGroups } from '../fd/group-config.js';
import { FdGroupService, type FdServiceOptions } from '../fd/group-service.js';
import type { FdEvent, GroupSubscription } from '../fd/types.js';
import type { TopologySpec } from '../topology/spec.js';
import { type AppLaneEntry, AppLaneFile, type AppLaneStore } from './app-lanes.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { readClockDomain } from './clock-domain.js';
import { EngineSync } from './engine-sync.js';
import {
  applySnapshot,
  applyUpdate,
  diffBooks,
  emptyBook,
  findGrant,
  type GrantBook,
  type SnapshotMessage,
  type UpdateMessage,
} from './grant-book.js';
import { type HostBoundsCalibration, measureHostBounds } from './host-bounds/measure.js';
import type { LaneSpecError, SpecContext } from './lane-specs.js';
import type { LocalBackend, LocalLane, LocalSubscriber } from './local-api/backend.js';
import { type AgentLog, silentLog } from './log.js';
import { memlockLimit, memoryNotLockedWarning } from './memlock.js';
import { createAgentMetrics } from './metrics/agent-metrics.js';
import { ClientDrops } from './metrics/client-drops.js';
import { registerFdMetrics } from './metrics/fd-metrics.js';
import { LateReleaseWatch } from './metrics/late-releases.js';
import { LatencyRecorder } from './metrics/latency-recorder.js';
import type { PeerMap } from './peers.js';
import { desiredQos, type QosOptions, qosOptionsFor } from './qos/desired.js';
import { desiredMarking } from './qos/dscp-mark.js';
import { DscpMarker, type NftRunner } from './qos/dscp-marker.js';
import { TcManager } from './qos/tc-manager.js';
import type { TcRunner } from './qos/tc-runner.js';
import { WatchClient } from './watch-client.js';

export interface AgentQosOptions {
  iface: string;
  runner: TcRunner;
  /** DSCP marking of this host's lane frames in the kernel (dscp-marker.ts); leave out to let the
   * engine mark them alone (the native engine can, the js engine cannot). */
  nft?: NftRunner;
  /** Drift repair: reconcile the interface again this often (default 30 s; 0: never). */
  resyncMs?: number;
}

export interface AgentOptions {
  host: string;
  controller: ControllerClient;
  engine: Engine;
  /** Address of every host this one exchanges lanes with (itself included, to bind to). */
  peers: PeerMap;
  /** Where the engine listens; default the host's own entry in `peers`, else 0.0.0.0. */
  bindAddress?: string;
  core?: number;
  /** Kernel QoS; leave out to run without it (no CAP_NET_ADMIN, or no --iface). */
  qos?: AgentQosOptions;
  log?: AgentLog;
  backoff?: BackoffOptions;
  idleTimeoutMs?: number;
  /** How long openLane waits for the new lane to arrive on this host's own watch stream. */
  bookWaitMs?: number;
  /** X-FD: run the failure detector for these groups (src/fd, docs/fd.md). */
  fd?: AgentFdOptions;
  /** Measure this host's send / receive bounds at start and send them to the controller (docs/operations.md). */
  hostBounds?: HostBoundsCalibration;
  /** Measures CLOCK_REALTIME − CLOCK_MONOTONIC for grant phases. Default: the engine's own reading
   * (native: in C, at once), else engine/clock.ts in JS — on a worker for the periodic checks, since
   * it waits for Date.now()'s next ms. */
  measureRealtimeOffset?: () => RealtimeOffsetMeasurement;
  /** How often the agent re-checks that offset for a clock step (default 60 s). */
  clockCheckMs?: number;
  /** How often the agent looks for lanes whose frames leave late, and logs them (default 60 s). */
  lateCheckMs?: number;
  /** What identifies this host's CLOCK_MONOTONIC (clock-domain.ts; default: the kernel's boot id,
   * null: say nothing). Receivers measure latency only on lanes whose sender has the same. */
  clockDomain?: string | null;
}

export type AgentFdOptions = Omit<
  FdServiceOptions,
  'host' | 'controller' | 'log' | 'onSpecsChanged' | 'groups'
> & {
  /** A group without members has every host of the topology (`--fd GROUP`). */
  groups: FdGroupSpec[];
};

interface Waiter {
  check(book: GrantBook): boolean;
}

interface Orphan extends AppLaneEntry {
  /** Its application closed it (or left) in this run, while the controller did not answer. */
  thisRun?: boolean;
}

export class Agent implements LocalBackend {
  readonly host: string;
  readonly latency = new LatencyRecorder();
  readonly metrics;
  private book: GrantBook = emptyBook();
  /** The book once engine and QoS hold it (the one waiters see); `book` leads it during an apply. */
  private settled: GrantBook = this.book;
  private readonly sync: EngineSync;
  /** The failure detector, when the agent runs one (AgentOptions.fd). */
  readonly fd: FdGroupService | undefined;
  private readonly watch: WatchClient;
  private readonly subs = new Map<string, Set<LocalSubscriber>>();
  private readonly waiters = new Set<Waiter>();
  private qos: TcManager | undefined;
  private marker: DscpMarker | undefined;
  private qosOpts: QosOptions | undefined;
  private qosTimer: NodeJS.Timeout | undefined;
  private qosFailures = 0;
  private readonly log: AgentLog;
  private readonly reported = new Set<string>();
  /** Lanes of the book the engine does not hold as granted (their last apply reported an error). */
  private notConfigured: ReadonlySet<string> = new Set();
  /** Grant versions not acknowledged because they could not be applied in full. */
  private applyFailures = 0;
  /** Said once per run: a controller that predates control protocols (register). */
  private unnamedProtocolLogged = false;
  /** This host's clock domain (clock-domain.ts), told to the controller at registration. */
  private readonly clockDomain: string | undefined;
  /** Turns grants' realtime phases into the engine's monotonic ones (measured on first use). */
  private readonly realtimeOffset: RealtimeOffset;
  private readonly checkMeasure: () => Promise<RealtimeOffsetMeasurement>;
  private readonly clockTimer: NodeJS.Timeout;
  private readonly lateTimer: NodeJS.Timeout;
  private readonly lateReleases: LateReleaseWatch;
  private checkingClock = false;
  private readonly clientDrops: ClientDrops;
  private appLanes: AppLaneStore | undefined;
  /** Lanes no local application holds any more that the controller may still admit: a previous
   * run's (app-lanes.ts), and this run's whose close did not reach the controller (it was away). */
  private orphans: Orphan[] = [];
  private releasing = false;
  /** Why the last attempt to close an orphan at the controller failed. */
  private releaseError: Error | undefined;
  /** Closes sent to the controller and not answered yet, by lane: a closing client waits for them
   * (releaseOrphansWithin) and counts those still unanswered as not released. */
  private readonly closing = new Map<string, Promise<unknown>>();
  /** Aborted by close(): requests to a controller that does not answer end with the agent instead of
   * holding the process for their whole timeout. */
  private readonly stopping = new AbortController();
  private readonly untilClosed = { signal: this.stopping.signal };
  /** A controller that answers the watch but refused a release (its disk full, a timeout) sends no
   * reconnect to retry on: the orphans are retried on this timer until it takes them. */
  private releaseTimer: NodeJS.Timeout | undefined;
  private readonly releaseBackoff: Backoff;
  /** The controller's createdAt of each lane opened through openLane in this run and not closed yet:
   * an orphan is released by the same rule as a previous run's (releaseOrphans). */
  private readonly openedAt = new Map<string, string>();
  /** Lanes this engine was not able to take as their sender, with why (the last sync's errors). */
  private senderErrors: ReadonlyMap<string, { message: string; code?: ErrorCode }> = new Map();
  private closed = false;
  private resolveReady!: () => void;
  /** Resolves once the first snapshot is applied; acknowledged too, unless a lane could not be
   * configured (then the agent serves the rest and withholds the ACK, see applyBook). */
  readonly ready = new Promise<void>((r) => {
    this.resolveReady = r;
  });

  private constructor(
    private readonly opts: AgentOptions,
    private topology: TopologySpec,
  ) {
    this.host = opts.host;
    this.log = opts.log ?? silentLog;
    this.clockDomain = opts.clockDomain === undefined ? readClockDomain() : (opts.clockDomain ?? undefined);
    const engine = opts.engine;
    const measure =
      opts.measureRealtimeOffset ??
      (engine.measureRealtimeOffset ? () => engine.measureRealtimeOffset!() : undefined);
    // Measured on first need (blocking for up to a ms in JS, at lane set-up); after that only by the
    // clock check below, so a grant change never waits for a measurement.
    this.realtimeOffset = new RealtimeOffset(measure, Number.POSITIVE_INFINITY);
    this.checkMeasure = measure ? async () => measure() : measureRealtimeOffsetOffThread;
    // Grants alone would re-read the offset only when they change: a clock step in a quiet fabric
    // must still re-phase the senders.
    this.clockTimer = setInterval(() => void this.checkClock(), opts.clockCheckMs ?? 60_000);
    this.clockTimer.unref();
    this.lateReleases = new LateReleaseWatch(this.log);
    this.lateTimer = setInterval(() => this.checkLateReleases(), opts.lateCheckMs ?? 60_000);
    this.lateTimer.unref();
    // The watch's backoff where one is given (tests shorten it), slower by default: a release is
    // not urgent, and a controller with its disk full is not helped by a retry a second.
    this.releaseBackoff = new Backoff({ initialMs: 1_000, maxMs: 30_000, ...opts.backoff });
    this.fd = opts.fd
      ? new FdGroupService({
          ...opts.fd,
          groups: resolveFdGroups(
            opts.fd.groups,
            topology.hosts.map((h) => h.name),
          ),
          host: opts.host,
          controller: opts.controller,
          log: this.log,
          onSpecsChanged: () => this.resyncEngine(),
        })
      : undefined;
    this.sync = new EngineSync(opts.engine, this.specContext(topology.expressPort));
    this.clientDrops = new ClientDrops(this.log);
    this.metrics = createAgentMetrics({
      engine: opts.engine,
      latency: this.latency,
      status: () => this.status(),
      qosErrors: () => this.qosFailures,
      laneEpochs: () => [...this.book.grants.values()].map((g) => [g.laneId, g.epoch]),
      grantApplyErrors: () => this.applyFailures,
      lanesNotConfigured: () => this.notConfigured.size,
      clientDrops: this.clientDrops,
      realtimeOffset: this.realtimeOffset,
      spin: () => spinStatsOf(opts.engine),
    });
    if (this.fd) registerFdMetrics(this.metrics, this.fd);
    this.watch = new WatchClient(
      {
        url: opts.controller.watchUrl(opts.host),
        host: opts.host,
        headers: opts.controller.authHeaders(),
        lastVersion: () => this.book.version,
        log: this.log,
        ...(opts.backoff ? { backoff: opts.backoff } : {}),
        ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      },
      {
        beforeConnect: () => this.register(),
        onSnapshot: (m) => this.applySnapshot(m),
        onUpdate: (m) => this.applyUpdate(m),
        onConnected: (c) => {
          // No `host` field: the daemon's logger carries it on every line already.
          this.log.info({}, c ? 'watch: in sync with the controller' : 'watch: disconnected');
          if (c) {
            this.resolveReady();
            void this.releaseOrphans();
          }
        },
      },
    );
  }

  /** Fetches the topology (waiting for the controller if need be), starts the engine and the QoS,
   * and begins following the grants. Await `ready` for the first snapshot. */
  static async start(opts: AgentOptions): Promise<Agent> {
    const log = opts.log ?? silentLog;
    const topology = await fetchTopology(opts.controller, opts.backoff, log);
    if (!topology.hosts.some((h) => h.name === opts.host)) {
      throw new XlaneError('XL_ERR_UNKNOWN_HOST', `host ${opts.host} is not in topology ${topology.name}`, {
        host: opts.host,
      });
    }
    const agent = new Agent(opts, topology);
    const bindAddress = opts.bindAddress ?? opts.peers.get(opts.host) ?? '0.0.0.0';
    await opts.engine.start({
      bindAddress,
      port: topology.expressPort,
      ...(opts.core !== undefined ? { core: opts.core } : {}),
    });
    if (opts.engine instanceof JsEngine) {
      // The js engine pins its pacing worker with taskset: say so plainly when it could not.
      const policy = opts.engine.workerPolicy();
      if (policy.error)
        log.warn({ core: opts.core, error: policy.error }, 'pacing worker not placed as asked');
    }
    if (opts.engine instanceof NativeEngine) {
      // Pinning and SCHED_FIFO are best effort (no CAP_SYS_NICE, a CPU that is not there): say so.
      const t = opts.engine.thread();
      if (t?.fifoError) log.warn({ error: t.fifoError }, 'engine thread not made SCHED_FIFO');
      if (opts.core !== undefined && t && !t.pinned)
        log.warn({ core: opts.core }, 'engine thread not pinned');
      // mlock is best effort as well: under a low RLIMIT_MEMLOCK the engine runs on pageable
      // memory, and a page the kernel reclaimed is a major fault on the packet path.
      if (t && !t.mlocked && t.mlockError) {
        const w = memoryNotLockedWarning(t.mlockError, memlockLimit());
        log.warn(w.fields, w.msg);
      }
    }
    if (opts.hostBounds) {
      // Registered, but not serving yet: the calibration lane has the engine to itself.
      await agent.register().catch((err) => log.warn({ err: (err as Error).message }, 'registration failed'));
      const ctx = {
        host: opts.host,
        engine: opts.engine,
        controller: opts.controller,
        bindAddress,
        topology,
        log,
      };
      await measureHostBounds(ctx, opts.hostBounds);
    }
    opts.engine.onDelivery((d) => agent.deliver(d));
    const fd = agent.fd;
    if (fd) opts.engine.onLiveness((e) => fd.liveness(e));
    if (opts.qos) await agent.startQos(opts.qos);
    agent.watch.start();
    return agent;
  }

  status(): {
    epoch: number;
    version: number;
    ackedVersion: number;
    connected: boolean;
    lanes: number;
    qos: boolean;
  } {
    return {
      epoch: this.book.epoch,
      version: this.book.version,
      ackedVersion: this.watch.ackedVersion,
      connected: this.watch.connected,
      lanes: this.book.grants.size,
      qos: this.qos !== undefined,
    };
  }

  /** From now on records the lanes opened through openLane in `store` (a file path: app-lanes.ts),
   * and closes at the controller those a previous run left there (now if connected, else once it
   * is). The daemon calls it only once it serves the local socket: before that, the file may still
   * be a live agent's, whose lanes are not orphans (an embedded client's store judges that itself,
   * client/lane-records.ts). */
  trackAppLanes(store: string | AppLaneStore): void {
    this.appLanes = typeof store === 'string' ? new AppLaneFile(store, this.log) : store;
    this.orphans = [...this.appLanes.load(), ...this.orphans];
    if (this.watch.connected) void this.releaseOrphans();
  }

  /** Keeps trying for up to `ms` to close the orphans at the controller, without waiting for the
   * watch to reconnect: for an embedded client that is closing, this process has no next
   * connection. Resolves with the lanes still not released and the controller's last error. */
  async releaseOrphansWithin(ms: number): Promise<{ lanes: string[]; cause?: Error }> {
    const deadline = Date.now() + ms;
    const backoff = new Backoff({ initialMs: 100, maxMs: 1_000 });
    let timer: NodeJS.Timeout | undefined;
    // A request to an unreachable controller may hang for the client's whole timeout: the deadline
    // is the caller's, so the attempts race it.
    const expired = new Promise<void>((r) => {
      timer = setTimeout(r, Math.max(0, ms));
    });
    const attempts = async () => {
      // A close still waiting for its answer may yet release its lane, or fail and make it an orphan.
      await Promise.allSettled(this.closing.values());
      while (!this.closed && this.orphans.length > 0 && Date.now() < deadline) {
        await this.releaseOrphans();
        if (this.orphans.length === 0) return;
        const wait = Math.min(backoff.next(), deadline - Date.now());
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    };
    try {
      await Promise.race([attempts(), expired]);
    } finally {
      clearTimeout(timer);
    }
    const lanes = [...new Set([...this.closing.keys(), ...this.orphans.map((o) => o.id)])];
    return lanes.length > 0 && this.releaseError ? { lanes, cause: this.releaseError } : { lanes };
  }

  /** The grants this agent holds now. */
  grants(): WireGrant[] {
    return [...this.book.grants.values()];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopping.abort();
    this.fd?.close();
    clearInterval(this.qosTimer);
    clearInterval(this.clockTimer);
    clearInterval(this.lateTimer);
    clearTimeout(this.releaseTimer);
    await this.watch.close();
    if (this.qos) {
      for (const part of [this.qos, this.marker]) {
        try {
          await part?.remove();
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'could not remove the kernel QoS');
        }
      }
    }
    try {
      await this.opts.engine.close();
    } finally {
      this.appLanes?.close?.();
    }
  }

  // ---- LocalBackend ----

  async openLane(
    request: Omit<LaneRequest, 'sender'>,
    opts: { waitLiveMs?: number } = {},
  ): Promise<LocalLane> {
    if (request.name?.startsWith(FD_LANE_PREFIX)) {
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `lane names starting with "${FD_LANE_PREFIX}" are the failure detector's`,
        {
          name: request.name,
        },
      );
    }
    // A receiver this agent has no address for would be admitted (the controller knows hosts, not
    // addresses) and then never sent to: refuse before the lane takes any bandwidth.
    const receivers: unknown[] = Array.isArray(request.receivers) ? request.receivers : [];
    const unreachable = receivers.filter((h) => typeof h === 'string' && !this.opts.peers.has(h));
    if (unreachable.length > 0) {
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `this agent has no address for receiver(s) ${unreachable.join(', ')}: add them to its --peers or --peers-file`,
        { receivers: unreachable, host: this.host },
      );
    }
    const res = await this.opts.controller.openLane(
      { ...request, sender: this.host },
      opts.waitLiveMs !== undefined ? { waitLiveMs: opts.waitLiveMs, ...this.untilClosed } : this.untilClosed,
    );
    const id = res.lane.id;
    this.openedAt.set(id, res.lane.createdAt);
    this.appLanes?.add({ id, createdAt: res.lane.createdAt });
    const live = res.lane.state === 'live';
    // The engine gets the sender from our own watch stream: wait for it, so send() works at once,
    // or for the engine to have refused it.
    const held = await this.waitFor((b) => {
      const g = b.grants.get(id);
      return g !== undefined && (!live || g.state === 'live' || this.senderErrors.has(id));
    }, this.opts.bookWaitMs ?? 5_000);
    const refused = this.senderErrors.get(id);
    if (refused) await this.refuseOpened(id, refused);
    const g = held ? this.settled.grants.get(id) : undefined;
    return { laneId: id, grant: g ?? res.lane.grant, state: g?.state ?? res.lane.state };
  }

  /** A lane admitted for this host that its engine cannot send on: handing it out as live would
   * only move the failure to the first send, while the lane holds its bandwidth at the controller.
   * So it is closed again and the caller hears why. */
  private async refuseOpened(id: string, why: { message: string; code?: ErrorCode }): Promise<never> {
    let closed = true;
    try {
      await this.closeLane(id);
    } catch (err) {
      closed = false;
      this.log.error(
        { lane: id, err: (err as Error).message },
        'could not close a lane this engine cannot send on: close it by hand',
      );
    }
    throw new XlaneError(
      why.code ?? 'XL_ERR_KERNEL',
      `lane ${id} cannot be sent from ${this.host}: ${why.message}` +
        (closed ? '; it was closed again' : '; closing it failed, it is still admitted'),
      { lane: id, cause: why.message, closed },
    );
  }

  /** Closes at the controller the lanes no local application holds any more (orphans): a previous
   * run's applications' (app-lanes.ts), whose connections died with that process, and this run's
   * whose close the controller did not answer. Runs on every (re)connection until each is either
   * closed or known to be gone; a lane whose id now names another lane (a controller that lost its
   * state) is left alone. */
  private async releaseOrphans(): Promise<void> {
    if (this.releasing || this.orphans.length === 0) return;
    this.releasing = true;
    try {
      for (const e of [...this.orphans]) {
        if (this.closed) return;
        try {
          const lane = await this.opts.controller.lane(e.id, this.untilClosed);
          if (lane.createdAt === e.createdAt && lane.grant.sender === this.host) {
            await this.opts.controller.closeLane(e.id, this.untilClosed);
            this.log.warn(
              { lane: e.id },
              e.thisRun
                ? 'closed a lane whose application let go of it while the controller was away'
                : 'closed a lane a local application had opened before this agent last stopped without closing it (killed?)',
            );
          }
        } catch (err) {
          if (!(isXlaneError(err) && err.code === 'XL_ERR_UNKNOWN_LANE')) {
            this.releaseError = err as Error;
            this.log.warn(
              { lane: e.id, err: (err as Error).message },
              'could not release a lane no local application holds; retrying',
            );
            return;
          }
        }
        this.orphans = this.orphans.filter((x) => x !== e);
        this.appLanes?.removeEntry(e);
        if (this.openedAt.get(e.id) === e.createdAt) this.openedAt.delete(e.id);
      }
    } finally {
      this.releasing = false;
      if (this.orphans.length === 0) this.releaseBackoff.reset();
      else this.retryReleases();
    }
  }

  /** Retries the orphans later while the watch is up (a reconnect retries them anyway). */
  private retryReleases(): void {
    if (this.closed || this.releaseTimer || this.orphans.length === 0 || !this.watch.connected) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = undefined;
      void this.releaseOrphans();
    }, this.releaseBackoff.next());
    this.releaseTimer.unref();
  }

  async listen(laneIdOrName: string): Promise<LocalLane> {
    const g = findGrant(this.settled, laneIdOrName);
    if (!g?.receivers.some((r) => r.host === this.host)) {
      throw new XlaneError('XL_ERR_UNKNOWN_LANE', `no lane ${laneIdOrName} towards ${this.host}`, {
        lane: laneIdOrName,
        host: this.host,
      });
    }
    return { laneId: g.laneId, grant: g, state: g.state };
  }

  async closeLane(laneId: string): Promise<void> {
    const g = this.book.grants.get(laneId);
    // Receivers do not own a lane: they stop listening by unsubscribing.
    if (g && g.sender !== this.host) return;
    const request = this.opts.controller.closeLane(laneId, this.untilClosed);
    this.closing.set(laneId, request);
    try {
      await request;
    } catch (err) {
      if (!(isXlaneError(err) && err.code === 'XL_ERR_UNKNOWN_LANE')) {
        this.releaseLater(laneId, err as Error);
        throw err;
      }
    } finally {
      if (this.closing.get(laneId) === request) this.closing.delete(laneId);
    }
    this.forgetOpened(laneId);
  }

  /** A close the controller did not answer (it is away, or timed out): nobody holds the lane any
   * more — the connection that opened it has let go — but the controller keeps it admitted, with
   * its share of every port on its path, until someone closes it. Released on the next connection,
   * as a previous run's are (the lane stays in the app-lanes file until then). */
  private releaseLater(laneId: string, err: Error): void {
    const createdAt = this.openedAt.get(laneId);
    if (createdAt === undefined || this.orphans.some((o) => o.id === laneId)) return;
    this.releaseError = err;
    this.orphans.push({ id: laneId, createdAt, thisRun: true });
    this.log.warn(
      { lane: laneId, err: err.message },
      'could not close a lane at the controller: closing it once the controller answers again',
    );
    this.retryReleases();
  }

  private forgetOpened(laneId: string): void {
    this.openedAt.delete(laneId);
    this.appLanes?.remove(laneId);
  }

  send(laneId: string, payload: Uint8Array): SendOutcome {
    const g = this.book.grants.get(laneId);
    if (g !== undefined && g.state === 'pending' && g.sender === this.host) {
      throw new XlaneError(
        'XL_ERR_FORBIDDEN',
        `lane ${laneId} is pending: it may send once every host concerned holds its grant`,
        { lane: laneId, state: 'pending' },
      );
    }
    return this.opts.engine.send(laneId, payload);
  }

  counters(laneId: string): LaneCounters | undefined {
    return this.opts.engine.counters().lanes.find((c) => c.laneId === laneId);
  }

  subscribe(laneId: string, sub: LocalSubscriber): () => void {
    const set = this.subs.get(laneId) ?? new Set<LocalSubscriber>();
    this.subs.set(laneId, set);
    set.add(sub);
    return () => {
      set.delete(sub);
      if (set.size === 0 && this.subs.get(laneId) === set) this.subs.delete(laneId);
    };
  }

  subscribeGroup(group: string, onEvent: (e: FdEvent) => void): GroupSubscription {
    if (!this.fd) {
      throw new XlaneError(
        'XL_ERR_NOT_FOUND',
        `this agent runs no failure detector (start it with --fd ${group})`,
        {
          group,
        },
      );
    }
    return this.fd.subscribe(group, onEvent);
  }

  clientDropped(kind: 'delivery' | 'fdEvent', key: string): void {
    this.clientDrops.record(kind, key);
  }

  /** This host's CLOCK_REALTIME − CLOCK_MONOTONIC as the agent converts grant phases with it. */
  realtimeOffsetNs(): bigint {
    return this.realtimeOffset.get();
  }

  // ---- internals ----

  private specContext(expressPort: number): SpecContext {
    return {
      host: this.host,
      peers: this.opts.peers,
      expressPort,
      ...(this.clockDomain !== undefined ? { clockDomain: this.clockDomain } : {}),
      ...(this.fd ? { heartbeats: this.fd.heartbeats } : {}),
      realtimeOffsetNs: () => this.realtimeOffsetNs(),
    };
  }

  /** Re-measures the realtime offset once a lane with a phase has needed it; when it moved (a clock
   * step), the senders get their phases converted anew. */
  private async checkClock(): Promise<void> {
    if (this.closed || this.checkingClock || this.realtimeOffset.current() === undefined) return;
    this.checkingClock = true;
    try {
      const fresh = await this.checkMeasure();
      if (this.closed || !this.realtimeOffset.offer(fresh)) return;
      this.log.info(
        { offsetNs: fresh.offsetNs.toString(), uncertaintyNs: fresh.uncertaintyNs.toString() },
        'the realtime clock moved: re-phasing the senders',
      );
      this.resyncEngine();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not measure the realtime clock offset');
    } finally {
      this.checkingClock = false;
    }
  }

  private checkLateReleases(): void {
    if (this.closed) return;
    try {
      this.lateReleases.check(this.opts.engine.counters().lanes);
    } catch (err) {
      // A timer's callback: an engine that cannot give its counters right now must not end the agent.
      this.log.warn({ err: (err as Error).message }, 'could not read the engine counters');
    }
  }

  /** The failure detector changed a heartbeat setting between grant updates (a held TO). */
  private resyncEngine(): void {
    if (this.closed) return;
    this.noteSyncErrors(this.sync.apply(this.book.grants.values()).errors);
  }

  /** Each failing lane is logged once while it keeps failing (every grant change retries it). */
  private noteSyncErrors(errors: LaneSpecError[]): void {
    const keys = new Set<string>();
    for (const e of errors) {
      const key = `${e.laneId}/${e.role}/${e.message}`;
      keys.add(key);
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      this.log.error({ lane: e.laneId, role: e.role }, `lane not configured: ${e.message}`);
    }
    for (const k of this.reported) if (!keys.has(k)) this.reported.delete(k);
    this.notConfigured = new Set(errors.map((e) => e.laneId));
    const senderErrors = new Map<string, { message: string; code?: ErrorCode }>();
    for (const e of errors) {
      if (e.role === 'sender')
        senderErrors.set(e.laneId, { message: e.message, ...(e.code ? { code: e.code } : {}) });
    }
    this.senderErrors = senderErrors;
  }

  private deliver(d: DeliveryView): void {
    this.latency.record(d.laneId, d.receivedNs - d.sentNs);
    const set = this.subs.get(d.laneId);
    if (!set) return;
    for (const s of set) {
      try {
        s.onDelivery(d);
      } catch (err) {
        this.log.error({ lane: d.laneId, err: (err as Error).message }, 'a delivery subscriber threw');
      }
    }
  }

  private async register(): Promise<void> {
    const info = {
      agentVersion: PACKAGE_VERSION,
      protocol: CONTROL_PROTOCOL,
      engine: this.opts.engine.kind,
      ...(this.clockDomain !== undefined ? { clockDomain: this.clockDomain } : {}),
    };
    try {
      await this.opts.controller.registerHost(this.host, info);
    } catch (err) {
      if (!refusedAsUnknownField(err)) throw err;
      // A controller of xlane 0.1.0: its closed register body refuses `protocol`, yet it speaks
      // protocol 1, which an agent that names none is taken to speak. An agent of protocol 1 may
      // so register without it, and a fleet's agents may go first in this one upgrade.
      if (CONTROL_PROTOCOL !== UNNAMED_PROTOCOL) {
        throw new XlaneError(
          'XL_ERR_VERSION',
          `the controller predates control protocols (it speaks protocol ${UNNAMED_PROTOCOL}) and this agent ` +
            `(xlane ${PACKAGE_VERSION}) speaks protocol ${CONTROL_PROTOCOL}: upgrade the controller`,
        );
      }
      const { protocol: _, ...unnamed } = info;
      await this.opts.controller.registerHost(this.host, unnamed);
      if (!this.unnamedProtocolLogged) {
        this.unnamedProtocolLogged = true;
        this.log.warn(
          { agentVersion: PACKAGE_VERSION, protocol: CONTROL_PROTOCOL },
          'the controller predates control protocols (xlane 0.1.0): registered without naming protocol 1, which it speaks; upgrade the controller (controllers go first)',
        );
      }
    }
    const topology = await this.opts.controller.topology();
    if (topology.expressPort !== this.topology.expressPort) {
      this.log.warn(
        { was: this.topology.expressPort, now: topology.expressPort },
        'the topology moved the express port: restart the agent to receive on the new one',
      );
    }
    this.topology = topology;
    this.sync.setContext(this.specContext(topology.expressPort));
    if (this.qos) this.qosOpts = this.qosOptionsOrUndefined(topology);
  }

  private applySnapshot(m: SnapshotMessage): Promise<boolean> {
    return this.applyBook(applySnapshot(this.book, m));
  }

  private applyUpdate(m: UpdateMessage): Promise<boolean> {
    return this.applyBook(applyUpdate(this.book, m));
  }

  /** Engine first, then the kernel QoS. Resolves true when the engine holds every grant, and only
   * then does the watch client ACK. Every apply starts from the whole book, so a lane that failed
   * is tried again on the next update or reconnect. */
  private async applyBook(next: GrantBook): Promise<boolean> {
    const before = this.book;
    const failedBefore = this.notConfigured.size > 0;
    this.book = next;
    // The failure detector first: it decides the heartbeat part of the specs (TO from the grants).
    this.fd?.observe(next.grants.values());
    const result = this.sync.apply(next.grants.values());
    this.noteSyncErrors(result.errors);
    if (result.ops.length > 0) {
      this.log.info(
        { version: next.version, epoch: next.epoch, ops: result.ops.map((o) => o.op) },
        'grants applied',
      );
    }
    // A lane whose sender stamps another machine's clock gets no histogram: its stamps say nothing
    // about latency, so its deliveries are not recorded (LatencyRecorder.record skips it).
    const measured = new Set<string>();
    for (const [id, spec] of this.sync.applied.receivers) {
      if (spec.sharedClock === false) continue;
      this.latency.configure(id, spec.lambdaMinNs, spec.lambdaMaxNs);
      measured.add(id);
    }
    this.latency.retain(measured);
    this.clientDrops.retainLanes(new Set(next.grants.keys()));
    await this.reconcileQos();
    this.notify(before, next);
    this.settled = next;
    for (const w of this.waiters) if (w.check(next)) this.waiters.delete(w);
    return this.judgeApply(next, failedBefore);
  }

  /** An ACK tells the controller this host obeys the version, and it turns pending lanes live: a
   * receiver without its lane would drop every frame as unknownLane. The controller has no
   * negative ACK, so a failure is withheld ACKs, the log and the metrics. */
  private judgeApply(next: GrantBook, failedBefore: boolean): boolean {
    if (this.notConfigured.size === 0) {
      if (failedBefore)
        this.log.info({ version: next.version }, 'grants applied in full again: acknowledging');
      return true;
    }
    this.applyFailures++;
    const lanes = [...this.notConfigured];
    this.log.error(
      { version: next.version, epoch: next.epoch, lanes },
      `grants version ${next.version} NOT acknowledged: ${lanes.length} lane(s) not configured (${lanes.join(', ')}); ` +
        'lanes waiting for this host stay pending; retried on the next grant change or reconnect',
    );
    return false;
  }

  private notify(before: GrantBook, after: GrantBook): void {
    const change = diffBooks(before, after);
    for (const g of change.changed)
      this.emit(g.laneId, { type: 'grant', laneId: g.laneId, grant: g, state: g.state });
    for (const id of change.removed) {
      this.emit(id, { type: 'closed', laneId: id, reason: 'removed by the controller' });
      this.forgetOpened(id);
    }
  }

  private emit(laneId: string, event: Parameters<LocalSubscriber['onEvent']>[0]): void {
    for (const s of this.subs.get(laneId) ?? []) {
      try {
        s.onEvent(event);
      } catch (err) {
        this.log.error({ lane: laneId, err: (err as Error).message }, 'an event subscriber threw');
      }
    }
  }

  private waitFor(check: (b: GrantBook) => boolean, timeoutMs: number): Promise<boolean> {
    if (check(this.settled)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w: Waiter = {
        check: (b) => {
          if (!check(b)) return false;
          clearTimeout(timer);
          resolve(true);
          return true;
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve(false);
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  private async startQos(q: AgentQosOptions): Promise<void> {
    this.qos = new TcManager(q.runner, q.iface);
    if (q.nft) this.marker = new DscpMarker(q.nft);
    this.qosOpts = this.qosOptionsOrUndefined(this.topology);
    if (!(await this.reconcileQos())) {
      this.log.warn(
        { iface: q.iface },
        'running WITHOUT kernel QoS: express traffic shares the default queue',
      );
      this.qos = undefined;
      return;
    }
    const every = q.resyncMs ?? 30_000;
    if (every > 0) {
      this.qosTimer = setInterval(() => void this.reconcileQos(), every);
      this.qosTimer.unref();
    }
  }

  /** The egress class stands without the mark, so a marking failure only warns and counts. */
  private async reconcileMarking(dscp: number): Promise<void> {
    if (!this.marker) return;
    try {
      if (await this.marker.reconcile(desiredMarking(this.book.grants.values(), this.host, dscp)))
        this.log.info({ dscp }, 'DSCP marking of lane frames reconciled');
    } catch (err) {
      const missing = err instanceof XlaneError && err.details?.missing === 'nft';
      if (missing)
        this.marker = undefined; // said once; nothing to retry until nft is installed
      else this.qosFailures++;
      const why = { err: (err as Error).message };
      // The native engine sets IP_TOS itself: for it the kernel rule is only a second line.
      if (this.opts.engine.kind === 'native')
        this.log.info(why, 'no kernel DSCP marking (the native engine marks its frames itself)');
      else
        this.log.warn(why, 'lane frames leave WITHOUT the express DSCP: switches carry them as best effort');
    }
  }

  private qosOptionsOrUndefined(topology: TopologySpec): QosOptions | undefined {
    try {
      return qosOptionsFor(topology, this.host);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'no QoS parameters for this host');
      return undefined;
    }
  }

  /** Failures are logged and counted, never fatal: lanes run without QoS rather than not at all. */
  private async reconcileQos(): Promise<boolean> {
    if (!this.qos || !this.qosOpts) return false;
    try {
      const cmds = await this.qos.reconcile(
        desiredQos(this.book.grants.values(), this.qos.iface, this.qosOpts),
      );
      if (cmds.length > 0)
        this.log.info({ iface: this.qos.iface, commands: cmds.length }, 'kernel QoS reconciled');
      await this.reconcileMarking(this.qosOpts.dscp);
      return true;
    } catch (err) {
      this.qosFailures++;
      this.log.warn({ iface: this.qos.iface, err: (err as Error).message }, 'kernel QoS not applied');
      return false;
    }
  }
}

async function fetchTopology(
  client: ControllerClient,
  backoff: BackoffOptions | undefined,
  log: AgentLog,
): Promise<TopologySpec> {
  const b = new Backoff(backoff);
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.topology();
    } catch (err) {
      if (!(isXlaneError(err) && (err.code === 'XL_ERR_CONNECT' || err.code === 'XL_ERR_TIMEOUT'))) throw err;
      const delay = b.next();
      if (attempt === 0) log.warn({ retryMs: delay }, `${err.message}; waiting for it`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
