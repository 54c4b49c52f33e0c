// Heartbeat receiver: listens on the lane heartbeat-sender.ts opens (by name; it waits for the lane
// to exist), and checks every heartbeat against what the controller granted: its one-way latency
// against the lane's window [λ_min, λ_max], and the silence since the previous one against the
// failure-detection timeout derived from that window (TO = π_min + λ_min + 2·δ, docs/fd.md), which
// a detector of this sender would use. It reports what it saw and leaves judging to you: the
// window holds on hosts that keep their declared bounds (docs/tuning.md), and a loaded machine
// running the js engine may well show latencies beyond λ_max.
//
// Run it on loopback, embedded mode (h2 on 127.0.0.2; see heartbeat-sender.ts), from the repository:
//
//   npm run xlane -- controller --topology examples/testbed-3.yaml --db /tmp/xlane-examples.db
//   npx tsx examples/heartbeat-receiver.ts          # h2
//   npx tsx examples/heartbeat-sender.ts            # h1, in another terminal
//
// Options (defaults in brackets):
//   --controller URL   controller for embedded mode [env XLANE_CONTROLLER, else http://127.0.0.1:7300]
//   --peers LIST       every host's engine address [env XLANE_PEERS, else h1=127.0.0.1,h2=127.0.0.2]
//   --socket PATH      use the host's agent instead of embedded mode [env XLANE_SOCKET]
//   --host NAME        this host in the topology [h2] (embedded mode; with --socket, whose window)
//   --name NAME        lane name (or id, "L1") to listen on [heartbeat]
//   --count N          stop after this many heartbeats [100]
//   --duration-s S     stop after this long in any case, waiting for the lane included [60]
// It also stops when the sender closes the lane; Ctrl-C stops it early.
//
// Timestamps are CLOCK_MONOTONIC ns of the two engines: comparable here because both run on one
// machine (in a data center, hosts whose clocks are synchronised).
//
// 'xlane' is the package as an application imports it; inside this repository tsconfig.json maps it
// to the sources (run from the repository's root), so an example never runs a stale dist/.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { type Client, connect, failureTimeoutNs, isXlaneError, type Lane, type LaneMessage } from 'xlane';
import { connectionOptions, connectOptions, positiveInt, stopOnSignals, us } from './shared.js';

const { values: opt } = parseArgs({
  options: {
    ...connectionOptions,
    host: { type: 'string', default: 'h2' },
    name: { type: 'string', default: 'heartbeat' },
    count: { type: 'string', default: '100' },
    'duration-s': { type: 'string', default: '60' },
  },
});
const count = positiveInt(opt.count, '--count');
const durationS = positiveInt(opt['duration-s'], '--duration-s');
const log = (msg: string) => console.log(`receiver ${opt.host}: ${msg}`);

const stop = stopOnSignals(log);
const deadline = setTimeout(() => {
  log(`${durationS} s are up: stopping`);
  stop.abort();
}, durationS * 1000);

const client = await connect(connectOptions(opt, opt.host));
try {
  const lane = await waitForLane(client);
  if (lane) await receive(lane);
} finally {
  clearTimeout(deadline);
  await client.close();
  log('client closed');
}

/** The receiving side never opens a lane: it waits until the sender's lane reaches this host. */
async function waitForLane(c: Client): Promise<Lane | undefined> {
  log(`waiting for lane "${opt.name}"`);
  while (!stop.signal.aborted) {
    try {
      return await c.listen(opt.name);
    } catch (err) {
      if (!(isXlaneError(err) && err.code === 'XL_ERR_UNKNOWN_LANE')) throw err;
    }
    await sleep(50, undefined, { signal: stop.signal }).catch(() => {});
  }
  return undefined;
}

async function receive(lane: Lane): Promise<void> {
  const host = opt.host;
  let window = lane.grant.receivers.find((r) => r.host === host);
  let timeoutNs = failureTimeoutNs(lane.grant, host) ?? 0;
  // Through an agent --host may be left at its default: a unicast lane's one receiver is this host.
  if (!window && lane.grant.receivers.length === 1) [window] = lane.grant.receivers;
  log(
    `listening on lane ${lane.id} "${lane.name}" from ${lane.grant.sender}: ` +
      `window [${us(window?.lambdaMinNs ?? 0)}, ${us(window?.lambdaMaxNs ?? 0)}] µs, ` +
      `π_min ${us(lane.grant.minPeriodNs)} µs, TO ${us(timeoutNs)} µs`,
  );
  // on_timeout_changed: the controller moved the window (another lane was admitted on the path).
  lane.on('timeoutChanged', (t) => {
    if (t.receiver !== window?.host) return;
    window = lane.grant.receivers.find((r) => r.host === t.receiver);
    timeoutNs = t.timeoutNs;
    log(`window now [${us(t.lambdaMinNs)}, ${us(t.lambdaMaxNs)}] µs, TO ${us(t.timeoutNs)} µs`);
  });
  let closedBySender = false;
  lane.on('closed', (reason) => {
    if (!stop.signal.aborted && !client.closed) {
      closedBySender = true;
      log(`lane closed: ${reason}`);
    }
  });
  // Closing a listened lane only ends this host's listening (the iterator below finishes).
  stop.signal.addEventListener('abort', () => {
    lane.close().catch(() => {});
  });

  let received = 0;
  let lost = 0;
  let withinWindow = 0;
  let longGaps = 0;
  let longestGapNs = 0;
  let first: LaneMessage | undefined;
  let previous: LaneMessage | undefined;
  const latency = { min: Number.POSITIVE_INFINITY, max: 0, sum: 0 };
  // Every message from the iterator is this loop's own copy; onMessage() would reuse one object.
  for await (const m of lane) {
    const ns = m.receivedNs - m.sentNs;
    received++;
    first ??= m;
    // seq counts the lane's frames on the wire: a jump is a frame that never arrived.
    if (previous && m.seq > previous.seq + 1) lost += m.seq - previous.seq - 1;
    latency.min = Math.min(latency.min, ns);
    latency.max = Math.max(latency.max, ns);
    latency.sum += ns;
    if (window && ns >= window.lambdaMinNs && ns <= window.lambdaMaxNs) withinWindow++;
    if (previous) {
      // Silence longer than TO is what a failure detector with this timeout takes for a crash.
      const gapNs = m.receivedNs - previous.receivedNs;
      longestGapNs = Math.max(longestGapNs, gapNs);
      if (gapNs > timeoutNs) longGaps++;
    }
    previous = m;
    if (received % 50 === 0) log(`${received} heartbeats, the last #${beat(m)} after ${us(ns)} µs`);
    if (received >= count) break;
  }

  if (!first || !previous) {
    log('done: no heartbeat received');
    return;
  }
  const why = closedBySender
    ? 'the sender closed the lane'
    : received >= count
      ? `${count} heartbeats`
      : 'stopped';
  log(
    `done (${why}): ${received} heartbeats, #${beat(first)}..#${beat(previous)}, ` +
      `seq ${first.seq}..${previous.seq}, ${lost} lost; ` +
      `latency min/avg/max ${us(latency.min)}/${us(latency.sum / received)}/${us(latency.max)} µs, ` +
      `${withinWindow}/${received} within the window; longest gap ${us(longestGapNs)} µs, ` +
      `${longGaps} longer than TO`,
  );
  if (lane.state !== 'closed') {
    // The engine's own view of the same lane: it judges every frame against the window too.
    const c = await lane.counters();
    log(`engine counters: received ${c.received}, lost ${c.lost}, late ${c.late}, early ${c.early}`);
  }
}

/** The sender's own number for a heartbeat (heartbeat-sender.ts: a u32). */
function beat(m: LaneMessage): number {
  return Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).readUInt32BE(0);
}
