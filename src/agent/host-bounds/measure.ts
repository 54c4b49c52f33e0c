// `--host-bounds measure`: calibrate on the agent's own engine, derive the bounds, send them to the
// controller (PUT /v1/hosts/:name/latency), log the figures. Never fatal: an agent whose calibration
// fails or whose bounds are refused serves its lanes on the bounds the controller already has.
import type { ControllerClient, HostLatencyRequest } from '../../client/controller-client.js';
import type { HostLatencyResult } from '../../controller/views.js';
import type { Engine } from '../../engine/types.js';
import { isXlaneError } from '../../errors.js';
import type { TopologySpec } from '../../topology/spec.js';
import type { AgentLog } from '../log.js';
import { type CalibrationRun, runCalibration } from './calibrate.js';
import { type BoundsPolicy, type DerivedHostBounds, deriveHostBounds } from './statistics.js';

export interface HostBoundsCalibration {
  /** How long frames are sent (default 2 s, at most 30). */
  seconds?: number;
  /** Period of the calibration lane (default 100 µs). */
  periodNs?: number;
  policy?: Partial<BoundsPolicy>;
}

export interface MeasureContext {
  host: string;
  engine: Engine;
  controller: ControllerClient;
  /** The address the engine is bound to. */
  bindAddress: string;
  topology: TopologySpec;
  log: AgentLog;
}

export interface MeasuredHostBounds {
  derived: DerivedHostBounds;
  request: HostLatencyRequest;
  /** The controller's answer; undefined when it refused or could not be reached (logged). */
  result: HostLatencyResult | undefined;
}

/** The PUT body for a run and its statistics: the bounds, and how they were obtained. */
export function hostLatencyRequest(
  run: Omit<CalibrationRun, 'latenciesNs'>,
  d: DerivedHostBounds,
): HostLatencyRequest {
  const s = d.summary;
  return {
    sendLatency: d.send,
    recvLatency: d.recv,
    measured: {
      samples: s.samples,
      periodNs: run.periodNs,
      durationNs: Math.round(run.durationNs),
      method: 'loopback',
      engine: run.engine,
      quantile: d.policy.quantile,
      safetyFactor: d.policy.safetyFactor,
      keepObservedMax: d.policy.keepObservedMax,
      sendShare: d.policy.sendShare,
      minFactor: d.policy.minFactor,
      lost: run.lost,
      ...(run.ringFullWaits !== undefined ? { ringFullWaits: run.ringFullWaits } : {}),
      observed: {
        minNs: s.minNs,
        p50Ns: s.p50Ns,
        p99Ns: s.p99Ns,
        quantileNs: s.quantileNs,
        maxNs: s.maxNs,
      },
    },
  };
}

export async function measureHostBounds(
  ctx: MeasureContext,
  cal: HostBoundsCalibration = {},
): Promise<MeasuredHostBounds | undefined> {
  const { log } = ctx;
  log.info(
    { engine: ctx.engine.kind, seconds: cal.seconds, periodNs: cal.periodNs },
    'host bounds: calibrating (a lane from this host to itself)',
  );
  let derived: DerivedHostBounds;
  let request: HostLatencyRequest;
  try {
    const run = await runCalibration(ctx.engine, {
      bindAddress: ctx.bindAddress,
      port: ctx.topology.expressPort,
      dscp: ctx.topology.expressDscp,
      ...(cal.seconds !== undefined ? { seconds: cal.seconds } : {}),
      ...(cal.periodNs !== undefined ? { periodNs: cal.periodNs } : {}),
    });
    derived = deriveHostBounds(run.latenciesNs, run.latenciesNs.length, cal.policy);
    request = hostLatencyRequest(run, derived);
  } catch (err) {
    log.error(
      { err: (err as Error).message, code: isXlaneError(err) ? err.code : undefined },
      'host bounds: calibration failed; keeping the bounds the controller has',
    );
    return undefined;
  }
  log.info(
    { ...request.measured, sendLatency: request.sendLatency, recvLatency: request.recvLatency },
    describe(derived),
  );
  if ((request.measured?.ringFullWaits ?? 0) > 0)
    log.warn(
      { ringFullWaits: request.measured!.ringFullWaits },
      'host bounds: the calibration waited on this process to drain its delivery ring ' +
        `${request.measured!.ringFullWaits} times (its JS thread lost the CPU); the bounds include those waits`,
    );
  try {
    const result = await ctx.controller.setHostLatency(ctx.host, request);
    log.info(
      { epoch: result.epoch, changed: result.changed.map((c) => c.laneId), revoked: result.revoked },
      `host bounds: the controller took them; ${result.changed.length} grant(s) re-issued`,
    );
    return { derived, request, result };
  } catch (err) {
    const refused = isXlaneError(err) && err.code === 'XL_ERR_TOPOLOGY_CONFLICT';
    log.error(
      {
        err: (err as Error).message,
        code: isXlaneError(err) ? err.code : undefined,
        ...(isXlaneError(err) && err.details ? { details: err.details } : {}),
      },
      refused
        ? 'host bounds: the controller refused them (a lane deadline would break); repeat the PUT with ?force=true to revoke those lanes'
        : 'host bounds: could not send them to the controller; keeping the bounds it has',
    );
    return { derived, request, result: undefined };
  }
}

/** One line an operator can read: "send 9.3..120.5 µs, recv 9.3..120.5 µs from 20000 frames …". */
export function describe(d: DerivedHostBounds): string {
  const us = (ns: number) => `${Math.round(ns / 100) / 10}`;
  const q = `p${Number((d.policy.quantile * 100).toFixed(4))}`;
  const s = d.summary;
  const range = (r: { minNs: number; maxNs: number }) => `${us(r.minNs)}..${us(r.maxNs)} µs`;
  return (
    `host bounds measured: send ${range(d.send)}, recv ${range(d.recv)} ` +
    `(${s.samples} frames; one-way min ${us(s.minNs)} µs, p50 ${us(s.p50Ns)}, p99 ${us(s.p99Ns)}, ` +
    `${q} ${us(s.quantileNs)}, max ${us(s.maxNs)} µs; ` +
    `lower bound the min × ${d.policy.minFactor}; ` +
    `upper bound from ${d.maxFrom === 'quantile' ? `${q} × ${d.policy.safetyFactor}` : 'the observed max'}` +
    (d.total.maxNs < s.maxNs
      ? `, below the observed max: a ${q} promise, about ${Number(((1 - d.policy.quantile) * 100).toPrecision(2))} % of frames may exceed it)`
      : ')')
  );
}
