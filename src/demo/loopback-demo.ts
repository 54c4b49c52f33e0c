// The demo without root: one lane granted by the controller demo, run by the TypeScript engine from
// this host to itself over 127.0.0.1. It shows the contract (period, size, the engine's clock) and
// one-way latencies beside the promised window, not the guarantee: there is no link, switch or
// cross traffic on loopback.
import { analyseLane, type LaneWindow } from '../bench/interference-stats.js';
import type { LaneLatencyDetail } from '../bench/interference-types.js';
import type { LaneView } from '../controller/views.js';
import { createJsEngine } from '../engine/js/engine.js';
import { laneWireId } from '../engine/types.js';
import { XlaneError } from '../errors.js';
import { freeUdpPort } from '../util/free-port.js';

export interface LoopbackRun {
  lane: LaneLatencyDetail;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLoopbackLane(view: LaneView, seconds: number): Promise<LoopbackRun> {
  const g = view.grant;
  const r = g.receivers[0];
  if (!r) throw new XlaneError('XL_ERR_INTERNAL', `lane ${view.id} has no receiver`);
  const engine = createJsEngine();
  const port = await freeUdpPort();
  await engine.start({ bindAddress: '127.0.0.1', port });
  const capacity = Math.ceil((seconds * 1e9) / g.minPeriodNs) + 1000;
  const receivedNs = new Float64Array(capacity);
  const latencyNs = new Float64Array(capacity);
  let count = 0;
  engine.onDelivery((d) => {
    if (count >= capacity) return;
    receivedNs[count] = d.receivedNs;
    latencyNs[count++] = d.receivedNs - d.sentNs;
  });
  try {
    const wireId = laneWireId(g.laneId);
    engine.setReceiver({
      laneId: g.laneId,
      wireId,
      epoch: g.epoch,
      senderAddress: '127.0.0.1',
      maxPayloadBytes: g.maxPayloadBytes,
      lambdaMinNs: r.lambdaMinNs,
      lambdaMaxNs: r.lambdaMaxNs,
      heartbeat: { deliver: true },
    });
    engine.setSender({
      laneId: g.laneId,
      wireId,
      epoch: g.epoch,
      maxPayloadBytes: g.maxPayloadBytes,
      minPeriodNs: g.minPeriodNs,
      policy: g.policy,
      dscp: g.dscp,
      priority: g.priority,
      srcPort: 0,
      destinations: [{ host: r.host, address: '127.0.0.1', port }],
      heartbeat: { incarnation: 1 },
    });
    await sleep(seconds * 1000);
    engine.removeSender(g.laneId);
    await sleep(50);
  } finally {
    await engine.close();
  }
  const w: LaneWindow = {
    lane: g.laneId,
    name: view.name ?? g.laneId,
    from: g.sender,
    to: r.host,
    periodNs: g.minPeriodNs,
    payloadBytes: g.maxPayloadBytes,
    lambdaMinNs: r.lambdaMinNs,
    lambdaMaxNs: r.lambdaMaxNs,
  };
  return {
    seconds,
    lane: analyseLane(w, { receivedNs, latencyNs, count, lost: 0, startNs: receivedNs[0] ?? 0 }),
  };
}
