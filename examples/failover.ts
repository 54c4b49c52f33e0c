// Failover: a primary and a standby. The primary serves (here: counts) and replicates its state to
// the standby on an express lane; both run X-FD (docs/fd.md), which heartbeats each way on lanes of
// its own and watches them in the engine, with a timeout derived from each lane's granted window
// instead of guessed. When X-FD declares the primary down, the standby takes over from the last
// state it received.
//
// Run it on loopback, embedded mode (the lane half and X-FD in each process; h1 on 127.0.0.1,
// h2 on 127.0.0.2, as examples/testbed-3.yaml names the hosts), from the repository:
//
//   npm run xlane -- controller --topology examples/testbed-3.yaml --db /tmp/xlane-examples.db
//   npx tsx examples/failover.ts primary            # h1, in a second terminal
//   npx tsx examples/failover.ts standby            # h2, in a third
//   kill -9 <the primary's pid>                     # or Ctrl-C it: either way its heartbeats stop
//
// Options (defaults in brackets):
//   --controller URL   controller for embedded mode [env XLANE_CONTROLLER, else http://127.0.0.1:7300]
//   --peers LIST       every host's engine address [env XLANE_PEERS, else h1=127.0.0.1,h2=127.0.0.2]
//   --socket PATH      use the host's agent instead [env XLANE_SOCKET]; it must run the group:
//                      `xlane agent … --fd failover=h1,h2` on both hosts
//   --host NAME        this host [primary: h1, standby: h2]
//   --peer NAME        the other one [primary: h2, standby: h1]
//   --group NAME       X-FD group [failover]
//   --lane NAME        the replication lane [failover-state]
//   --tick-ms MS       the primary's work (and replication) period [100]
//   --duration-s S     primary: serve this long; standby: wait this long for a takeover [60]
//   --serve-ticks N    after taking over, serve this many ticks, then stop [20]
//   --fd-period-us US  X-FD heartbeat period (embedded mode; the agent's --fd-period) [5000]
//   --fd-confirm-ms MS suspected this long without a heartbeat → down (embedded; --fd-confirm) [1000]
// Ctrl-C stops either early; the client closes, which releases the replication lane. X-FD's own
// lanes stay admitted on purpose (a member that stopped is what the others must detect); the next
// start on the host takes them over.
//
// 'xlane' is the package as an application imports it; inside this repository tsconfig.json maps it
// to the sources (run from the repository's root), so an example never runs a stale dist/.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { connect, type FailureDetector, type FdEvent, isXlaneError, type Lane } from 'xlane';
import { connectionOptions, connectOptions, ms, positiveInt, stopOnSignals, us } from './shared.js';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    ...connectionOptions,
    host: { type: 'string' },
    peer: { type: 'string' },
    group: { type: 'string', default: 'failover' },
    lane: { type: 'string', default: 'failover-state' },
    'tick-ms': { type: 'string', default: '100' },
    'duration-s': { type: 'string', default: '60' },
    'serve-ticks': { type: 'string', default: '20' },
    'fd-period-us': { type: 'string', default: '5000' },
    'fd-confirm-ms': { type: 'string', default: '1000' },
  },
});
const role = positionals[0];
if (role !== 'primary' && role !== 'standby') {
  console.error('usage: failover.ts primary|standby [options] (see the comment at the top)');
  process.exit(2);
}
const host = opt.host ?? (role === 'primary' ? 'h1' : 'h2');
const peer = opt.peer ?? (role === 'primary' ? 'h2' : 'h1');
const tickMs = positiveInt(opt['tick-ms'], '--tick-ms');
const durationS = positiveInt(opt['duration-s'], '--duration-s');
const serveTicks = positiveInt(opt['serve-ticks'], '--serve-ticks');
const log = (msg: string) => console.log(`${role} ${host}: ${msg}`);

const stop = stopOnSignals(log);
const deadline = setTimeout(() => {
  log(`${durationS} s are up: stopping`);
  stop.abort();
}, durationS * 1000);

const client = await connect(
  connectOptions(opt, host, {
    fd: {
      groups: [{ name: opt.group, members: [host, peer] }],
      periodNs: positiveInt(opt['fd-period-us'], '--fd-period-us') * 1000,
      confirmNs: positiveInt(opt['fd-confirm-ms'], '--fd-confirm-ms') * 1_000_000,
    },
  }),
);
try {
  // XL_ERR_NOT_FOUND here: the agent behind --socket does not run this group.
  const fd = await client.failureDetector(opt.group);
  logChanges(fd, role === 'primary' ? 'standby' : 'primary');
  if (role === 'primary') await primary(fd);
  else await standby(fd);
} finally {
  clearTimeout(deadline);
  await client.close();
  log('client closed');
}

async function primary(fd: FailureDetector): Promise<void> {
  const lane = await client.openLane({
    to: peer,
    name: opt.lane,
    maxPayloadBytes: 8,
    minPeriodNs: tickMs * 1_000_000,
    // Only the newest state matters to the standby: a newer one replaces one not yet sent.
    policy: 'coalesce',
    // A primary serves whether or not its standby is there: a lane towards a host the controller
    // knows stays pending until that host holds it (docs/api.md, the safe change order).
    waitLiveMs: 0,
  });
  const replicating = () => log(`replicating to ${peer} on lane ${lane.id} every ${tickMs} ms`);
  if (lane.state === 'live') replicating();
  else lane.once('live', replicating);
  // Over the agent's socket a send is not waited for: a refusal comes back as this event.
  lane.on('refused', (err) => log(`replication refused: ${err.message}`));
  log('serving');
  const payload = Buffer.alloc(8);
  let state = 0;
  while (!stop.signal.aborted) {
    state++;
    payload.writeBigUInt64BE(BigInt(state));
    // A pending lane may not send yet; a closed one (the controller revoked it) no more.
    if (lane.state === 'live') lane.send(payload);
    if (state % ticksPerSecond() === 0) log(`state ${state}; standby ${peer} ${stateOf(fd, peer)}`);
    await sleep(tickMs, undefined, { signal: stop.signal }).catch(() => {});
  }
}

async function standby(fd: FailureDetector): Promise<void> {
  const replica = { state: 0 };
  const replication = new AbortController();
  const replicating = replicate(replica, replication.signal).catch((err: Error) => {
    log(`replication failed: ${err.message}`);
    process.exitCode = 1;
    stop.abort();
  });
  const status = setInterval(
    () => log(`replica at state ${replica.state}; primary ${peer} ${stateOf(fd, peer)}`),
    1000,
  );
  const down = await primaryDown(fd);
  clearInterval(status);
  replication.abort();
  await replicating;
  if (!down) return;

  const silence =
    down.lastHeartbeatNs > 0
      ? `no heartbeat for ${ms(down.detectedNs - down.lastHeartbeatNs)} ms`
      : 'never heard';
  log(
    `primary ${peer} is down (${down.cause}, incarnation ${down.incarnation}): ${silence}, ` +
      `TO ${us(down.timeoutNs)} µs; taking over at state ${replica.state}`,
  );
  // A real service must also fence the old primary here (e.g. an epoch in its state that the new
  // primary raises): `down` is X-FD's verdict, not a proof that the process can never speak again.
  let state = replica.state;
  for (let tick = 1; tick <= serveTicks && !stop.signal.aborted; tick++) {
    state++;
    log(`serving as primary: state ${state}`);
    await sleep(tickMs, undefined, { signal: stop.signal }).catch(() => {});
  }
  log(`served ${serveTicks} ticks as primary: stopping`);
}

/** Follows the primary's state lane until `signal`: listens once it exists, keeps the newest state. */
async function replicate(replica: { state: number }, signal: AbortSignal): Promise<void> {
  let lane: Lane | undefined;
  while (!lane && !signal.aborted) {
    try {
      lane = await client.listen(opt.lane);
    } catch (err) {
      if (!(isXlaneError(err) && err.code === 'XL_ERR_UNKNOWN_LANE')) throw err;
      await sleep(100, undefined, { signal }).catch(() => {});
    }
  }
  if (!lane) return;
  log(`replicating from lane ${lane.id}`);
  // A callback, not an iterator: only the newest value is kept, nothing per message is allocated.
  lane.onMessage((m) => {
    replica.state = Number(Buffer.from(m.payload.buffer, m.payload.byteOffset, 8).readBigUInt64BE());
  });
  const held = lane;
  await new Promise<void>((resolve) => {
    held.once('closed', () => resolve());
    signal.addEventListener('abort', () => resolve(), { once: true });
    if (signal.aborted) resolve();
  });
  // Only this host's listening ends: the lane is the primary's to close.
  await held.close();
}

/** What made the standby take over. */
type Verdict = Pick<FdEvent, 'incarnation' | 'lastHeartbeatNs' | 'detectedNs' | 'timeoutNs'> & {
  cause: string;
};

/** Resolves once X-FD declares the primary down, or with undefined once the standby stops.
 * `suspect` is X-FD's fast signal, right whenever the contract holds, but a loaded host that misses
 * its own bounds shows brief suspicions of a live member; `down` (suspected without a break for
 * the confirm time) is the verdict for a decision as costly to undo as a takeover. */
function primaryDown(fd: FailureDetector): Promise<Verdict | undefined> {
  return new Promise((resolve) => {
    const done = (v: Verdict | undefined) => {
      fd.off('down', onDown);
      fd.off('closed', onClosed);
      stop.signal.removeEventListener('abort', onClosed);
      resolve(v);
    };
    // A 'restarted' down names an incarnation the primary left behind: its new one heartbeats already.
    const onDown = (e: FdEvent) => {
      if (e.member === peer && e.cause !== 'restarted') done(e);
    };
    const onClosed = () => done(undefined);
    fd.on('down', onDown);
    fd.on('closed', onClosed);
    stop.signal.addEventListener('abort', onClosed);
    // Through a long-running agent the primary may be down already when the standby subscribes.
    const now = fd.member(peer);
    if (now?.state === 'down') done({ ...now, cause: 'down when this standby subscribed' });
    if (stop.signal.aborted || fd.closed) done(undefined);
  });
}

/** Logs the other member's changes, except the suspect → up flaps of a loaded host (counted in the
 * status lines instead). */
function logChanges(fd: FailureDetector, who: string): void {
  let last = fd.member(peer)?.state ?? 'unknown';
  fd.on('change', (e) => {
    if (e.member !== peer) return;
    const flap = e.state === 'suspect' || (e.state === 'up' && last === 'suspect');
    last = e.state;
    if (!flap)
      log(`${who} ${peer} ${e.state} (${e.cause}, incarnation ${e.incarnation}, TO ${us(e.timeoutNs)} µs)`);
  });
}

function stateOf(fd: FailureDetector, member: string): string {
  const m = fd.member(member);
  if (!m) return 'unknown';
  return m.suspicions > 0 ? `${m.state}, suspected ${m.suspicions}× so far` : m.state;
}

function ticksPerSecond(): number {
  return Math.max(1, Math.round(1000 / tickMs));
}
