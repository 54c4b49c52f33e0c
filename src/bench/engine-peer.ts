// A bench peer: one process per network namespace, started by engine.ts with its PeerConfig as the
// only argument. It runs a lane engine and a plain dgram socket side by side, sets up the bench's
// lanes for its role, then answers requests read from stdin (one JSON object per line, replies on
// stdout). Peer A pings and drives the periodic lane; peer B echoes and records it.
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createJsEngine, JsEngine } from '../engine/js/engine.js';
import { backupReleasesOf, NativeEngine } from '../engine/native/engine.js';
import { createNativeEngine, spinStatsOf } from '../engine/native/select.js';
import { effectivePhaseNs } from '../engine/schedule.js';
import { spinReport } from '../engine/spin-setting.js';
import { type Engine, laneWireId } from '../engine/types.js';
import { isXlaneError, XlaneError } from '../errors.js';
import { PacingRecorder, paceHeartbeat, paceLane } from './engine-pacing.js';
import {
  type BlockReply,
  ECHO_LANE,
  PACE_LANE,
  type PeerConfig,
  type PeerReply,
  type PeerRequest,
  PING_LANE,
} from './engine-peer-protocol.js';
import { PingPong, pingId } from './engine-ping-pong.js';
import { Poller } from './engine-poller.js';
import { summarizeNs } from './engine-stats.js';

/** Receivers accept any latency here: the bench measures it instead of judging it. */
const ANY_LATENCY_NS = 10e9;

function createBenchEngine(cfg: PeerConfig): Engine {
  if (cfg.engine === 'js')
    return createJsEngine({
      ...(cfg.fifoPriority !== undefined ? { fifoPriority: cfg.fifoPriority } : {}),
      ...(cfg.spinUs !== undefined ? { spinUs: cfg.spinUs } : {}),
      ...(cfg.maxSpinUs !== undefined ? { maxSpinUs: cfg.maxSpinUs } : {}),
    });
  // The orchestrator checked that the addon loads (and fell back loudly if not): failing here is
  // a fault, not a reason to measure another engine under this one's name.
  const native = createNativeEngine({
    receive: cfg.receive ?? 'busy-poll',
    ...(cfg.fifoPriority !== undefined ? { fifoPriority: cfg.fifoPriority } : {}),
    ...(cfg.spinUs !== undefined ? { spinUs: cfg.spinUs } : {}),
    ...(cfg.maxSpinUs !== undefined ? { maxSpinUs: cfg.maxSpinUs } : {}),
    ...(cfg.backupCore !== undefined ? { backupCore: cfg.backupCore } : {}),
  });
  if (!native.engine)
    throw new XlaneError('XL_ERR_INTERNAL', `native engine unavailable in the peer: ${native.reason}`);
  return native.engine;
}

function lowerTimerSlack(): void {
  try {
    writeFileSync('/proc/self/timerslack_ns', '1');
  } catch {
    // Not exposed by this kernel: the refill loop's waits are just longer (refillGapsOverPeriod).
  }
}

function reply(r: PeerReply): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

function sender(
  cfg: PeerConfig,
  laneId: string,
  minPeriodNs: number,
  policy: 'reject' | 'coalesce',
  releaseJitterNs = 0,
  phaseNs?: number,
) {
  return {
    laneId,
    wireId: laneWireId(laneId),
    epoch: 1,
    maxPayloadBytes: cfg.payloadBytes,
    minPeriodNs,
    releaseJitterNs,
    ...(phaseNs !== undefined ? { phaseNs } : {}),
    policy,
    dscp: 46,
    priority: 6,
    srcPort: 0,
    destinations: [{ host: 'peer', address: cfg.peerAddress, port: cfg.enginePort }],
  };
}

function receiver(cfg: PeerConfig, laneId: string) {
  return {
    laneId,
    wireId: laneWireId(laneId),
    epoch: 1,
    senderAddress: cfg.peerAddress,
    maxPayloadBytes: cfg.payloadBytes,
    lambdaMinNs: 0,
    lambdaMaxNs: ANY_LATENCY_NS,
  };
}

async function openDgram(cfg: PeerConfig): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('error', () => {}); // ICMP unreachable while the other peer starts: not fatal
  await new Promise<void>((r) => s.bind(cfg.dgramPort, cfg.address, () => r()));
  // Connected, like the engine's sockets: the fairest plain-dgram baseline skips per-send lookups.
  await new Promise<void>((r) => s.connect(cfg.dgramPort, cfg.peerAddress, () => r()));
  return s;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2] ?? '{}') as PeerConfig;
  const engine = createBenchEngine(cfg);
  await engine.start({
    bindAddress: cfg.address,
    port: cfg.enginePort,
    ...(cfg.core !== undefined ? { core: cfg.core } : {}),
  });
  if (engine instanceof JsEngine && cfg.fifoPriority !== undefined) {
    // Measuring SCHED_OTHER under the name of a SCHED_FIFO run would mislead: refuse instead.
    const policy = engine.workerPolicy();
    if (policy.error)
      throw new XlaneError('XL_ERR_KERNEL', `pacing worker not made SCHED_FIFO: ${policy.error}`);
  }
  // After start(): the engine's threads keep the slack they were created with, so this tightens only
  // the bench's own refill loop (engine-pacing.ts) and the engine is measured as the agent runs it.
  lowerTimerSlack();
  const sock = await openDgram(cfg);
  const enginePayload = Buffer.alloc(cfg.payloadBytes);
  const dgramPayload = Buffer.alloc(cfg.payloadBytes);
  const enginePing = new PingPong(enginePayload, (p) => engine.send(PING_LANE, p));
  const dgramPing = new PingPong(dgramPayload, (p) => sock.send(p));
  const recorder = new PacingRecorder(
    cfg.pacingPeriodNs,
    cfg.pacingReleaseJitterNs,
    effectivePhaseNs(cfg.pacingPhaseNs, cfg.pacingReleaseJitterNs),
  );
  const paceSender = () =>
    sender(cfg, PACE_LANE, cfg.pacingPeriodNs, 'coalesce', cfg.pacingReleaseJitterNs, cfg.pacingPhaseNs);
  const poller = engine instanceof NativeEngine && cfg.receive === 'poll' ? new Poller(engine) : undefined;

  if (cfg.role === 'a') {
    engine.setSender(sender(cfg, PING_LANE, cfg.pingPeriodNs, 'reject'));
    // The heartbeat feed opens its lane only for the run (paceHeartbeat): it sends from the start.
    if (cfg.pacingFeed === 'refill') engine.setSender(paceSender());
    engine.setReceiver(receiver(cfg, ECHO_LANE));
    engine.onDelivery((d) => {
      if (d.laneId === ECHO_LANE) enginePing.reply(pingId(d.payload));
    });
    sock.on('message', (m) => dgramPing.reply(pingId(m)));
  } else {
    engine.setSender(sender(cfg, ECHO_LANE, cfg.pingPeriodNs, 'reject'));
    engine.setReceiver(receiver(cfg, PING_LANE));
    engine.setReceiver({ ...receiver(cfg, PACE_LANE), heartbeat: { deliver: true } });
    engine.onDelivery((d) => {
      if (d.laneId === PING_LANE) engine.send(ECHO_LANE, d.payload);
      else if (d.laneId === PACE_LANE) recorder.record(d.seq, d.sentNs, d.payload);
    });
    sock.on('message', (m) => sock.send(m));
  }

  const handle = async (req: PeerRequest): Promise<PeerReply> => {
    switch (req.op) {
      case 'rtReserve':
        enginePing.reserve(req.capacity);
        dgramPing.reserve(req.capacity);
        return { op: 'rtReserve' };
      case 'rtBlock': {
        // Peer A polls for the echoes of its own pings; peer B is told when to poll ('poll').
        poller?.set(req.engine !== false);
        try {
          return await roundTripBlock(req, enginePing, dgramPing, poller);
        } finally {
          poller?.set(false);
        }
      }
      case 'poll':
        poller?.set(req.on);
        return { op: 'poll' };
      case 'rtSummary':
        return {
          op: 'rtSummary',
          engineRttUs: summarizeNs(enginePing.samples, enginePing.recorded),
          dgramRttUs: summarizeNs(dgramPing.samples, dgramPing.recorded),
          engineRoundTrips: enginePing.recorded,
          dgramRoundTrips: dgramPing.recorded,
          engineLost: enginePing.lost,
          dgramLost: dgramPing.lost,
        };
      case 'pace': {
        const before = backupReleasesOf(engine);
        const r =
          cfg.pacingFeed === 'heartbeat'
            ? await paceHeartbeat(engine, paceSender(), req.seconds)
            : await paceLane(engine, PACE_LANE, enginePayload, cfg.pacingPeriodNs, req.seconds);
        const spin = spinStatsOf(engine);
        return {
          ...r,
          backupReleases: backupReleasesOf(engine) - before,
          ...(spin ? { spin: spinReport(spin) } : {}),
        };
      }
      case 'pacingArm':
        recorder.arm(req.seconds);
        return { op: 'pacingArm' };
      case 'pacingReport':
        return recorder.report(engine.counters().dropped);
      case 'exit':
        await engine.close();
        sock.close();
        return { op: 'exit' };
    }
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    let req: PeerRequest;
    try {
      req = JSON.parse(line) as PeerRequest;
    } catch {
      reply({ op: 'error', code: 'XL_ERR_BAD_JSON', message: `bad request line: ${line.slice(0, 80)}` });
      return;
    }
    handle(req).then(
      (r) => {
        reply(r);
        if (r.op === 'exit') process.exit(0);
      },
      (e) => reply(errorReply(e)),
    );
  });
  // The orchestrator gone (stdin closed) means nobody will ever ask this peer to exit.
  lines.on('close', () => process.exit(0));
  reply({ op: 'ready' });
}

async function roundTripBlock(
  req: Extract<PeerRequest, { op: 'rtBlock' }>,
  engine: PingPong,
  plain: PingPong,
  poller: Poller | undefined,
): Promise<BlockReply> {
  const deadline = Date.now() + req.maxSeconds * 1000;
  if (req.engine !== false) await engine.run(req.count, req.warmup, deadline);
  poller?.set(false);
  if (req.dgram) await plain.run(req.count, req.warmup, deadline);
  return { op: 'rtBlock', engineRecorded: engine.recorded, dgramRecorded: plain.recorded };
}

function errorReply(e: unknown): PeerReply {
  if (isXlaneError(e)) return { op: 'error', code: e.code, message: e.message };
  return { op: 'error', code: 'XL_ERR_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

main().catch((e) => {
  reply(errorReply(e));
  process.exit(1);
});
