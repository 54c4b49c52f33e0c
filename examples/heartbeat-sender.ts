// Heartbeat sender: opens an express lane to one host and keeps a numbered heartbeat on it at every
// period boundary for `--duration-s`, then releases the lane. Pair it with heartbeat-receiver.ts.
// The lane's policy is 'coalesce': a heartbeat sent while the previous one still waits for its
// boundary replaces it, so the application may send more often than π_min and the wire still
// carries one frame per period, the newest.
//
// Run it on loopback, embedded mode (no agent: the lane half runs in this process; h1 on
// 127.0.0.1, h2 on 127.0.0.2, as examples/testbed-3.yaml names the hosts), from the repository:
//
//   npm run xlane -- controller --topology examples/testbed-3.yaml --db /tmp/xlane-examples.db
//   npx tsx examples/heartbeat-receiver.ts          # h2, in a second terminal
//   npx tsx examples/heartbeat-sender.ts            # h1, in a third
//
// Options (defaults in brackets):
//   --controller URL   controller for embedded mode [env XLANE_CONTROLLER, else http://127.0.0.1:7300]
//   --peers LIST       every host's engine address [env XLANE_PEERS, else h1=127.0.0.1,h2=127.0.0.2]
//   --socket PATH      use the host's agent instead of embedded mode [env XLANE_SOCKET]
//   --host NAME        this host in the topology [h1] (embedded mode; an agent knows its own)
//   --to NAME          the receiving host [h2]
//   --name NAME        lane name the receiver listens by [heartbeat]
//   --period-us US     π: one heartbeat per period [10000] (this timer sends every π/2, at
//                      least 1 ms apart: below π = 2 ms, some boundaries go without a heartbeat)
//   --duration-s S     send this long, then close [10]
// Ctrl-C stops it early; either way the client closes, which releases the lane at the controller.
//
// 'xlane' is the package as an application imports it; inside this repository tsconfig.json maps it
// to the sources (run from the repository's root), so an example never runs a stale dist/.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { connect, failureTimeoutNs, type Lane } from 'xlane';
import { connectionOptions, connectOptions, positiveInt, stopOnSignals, us } from './shared.js';

const { values: opt } = parseArgs({
  options: {
    ...connectionOptions,
    host: { type: 'string', default: 'h1' },
    to: { type: 'string', default: 'h2' },
    name: { type: 'string', default: 'heartbeat' },
    'period-us': { type: 'string', default: '10000' },
    'duration-s': { type: 'string', default: '10' },
  },
});
const durationS = positiveInt(opt['duration-s'], '--duration-s');
const periodUs = positiveInt(opt['period-us'], '--period-us');
const log = (msg: string) => console.log(`sender ${opt.host}: ${msg}`);

const stop = stopOnSignals(log);

const client = await connect(connectOptions(opt, opt.host));
try {
  const lane = await client.openLane({
    to: opt.to,
    name: opt.name,
    maxPayloadBytes: 4, // σ: the heartbeat's number, a u32
    minPeriodNs: periodUs * 1000,
    policy: 'coalesce',
  });
  // openLane waited up to 10 s for the controller's safe change order; a send before live is refused.
  if (lane.state !== 'live') await lane.live(30_000);
  describe(lane);
  // on_timeout_changed: a later admission moved this lane's window, and the receiver's
  // deterministic failure-detection timeout moves with it.
  lane.on('timeoutChanged', (t) =>
    log(
      `window for ${t.receiver} now [${us(t.lambdaMinNs)}, ${us(t.lambdaMaxNs)}] µs, TO ${us(t.timeoutNs)} µs`,
    ),
  );
  // The controller may close it (an operator's `xlane lanes close`): stop sending then.
  // Over the agent's socket a send is not waited for: a refusal comes back as this event.
  lane.on('refused', (err) => log(`send refused: ${err.message}`));
  lane.on('closed', (reason) => {
    if (!client.closed) log(`lane closed: ${reason}`);
    stop.abort();
  });
  await sendHeartbeats(lane);
} finally {
  await client.close();
  log('client closed, lane released');
}

async function sendHeartbeats(lane: Lane): Promise<void> {
  const payload = Buffer.alloc(4);
  const until = Date.now() + durationS * 1000;
  let beat = 0;
  let report = Date.now() + 1000;
  while (!stop.signal.aborted && lane.state !== 'closed' && Date.now() < until) {
    payload.writeUInt32BE(beat++ % 2 ** 32);
    lane.send(payload);
    if (Date.now() >= report) {
      report += 1000;
      const c = await lane.counters();
      log(`${c.sent} heartbeats on the wire (${c.coalesced} sends replaced by a newer one)`);
    }
    // Twice a period: every boundary must find a heartbeat waiting, or the receiver sees a gap
    // (TO assumes one per period). The engine, not this timer, keeps them π_min apart on the wire.
    const everyMs = Math.max(1, lane.grant.minPeriodNs / 2e6);
    await sleep(everyMs, undefined, { signal: stop.signal }).catch(() => {});
  }
  // A lane the controller closed under us has no counters left to read.
  if (lane.state === 'closed') return;
  // close() releases the lane at once: the newest heartbeat gets its period boundary first.
  await sleep(2 * Math.max(1, lane.grant.minPeriodNs / 1e6));
  const c = await lane.counters();
  log(`done: ${c.sent} heartbeats on the wire from ${beat} sends (${c.coalesced} replaced by a newer one)`);
}

function describe(lane: Lane): void {
  const g = lane.grant;
  const windows = g.receivers.map(
    (r) =>
      `${r.host} [${us(r.lambdaMinNs)}, ${us(r.lambdaMaxNs)}] µs (TO ${us(failureTimeoutNs(g, r.host) ?? 0)} µs)`,
  );
  log(
    `lane ${lane.id} "${lane.name}" live: σ_max ${g.maxPayloadBytes} B, π_min ${us(g.minPeriodNs)} µs, ` +
      `window ${windows.join(', ')}`,
  );
}
