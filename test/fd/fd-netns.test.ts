// X-FD for real (root only; CI runs as root): three hosts in network namespaces on a bridge, a
// controller in a fourth, and an `xlane agent --fd g=h1,h2,h3` per host — every one a real process
// started from the CLI — followed from the test through the library (`client.failureDetector('g')`
// over each agent's Unix socket). In order:
//   1. bulk TCP cross traffic saturates every host's egress for a bounded time: no member is
//      suspected (the heartbeats ride the express class of each agent's kernel QoS);
//   2. a paused agent (SIGSTOP) is suspected by both others within TO + slack, and is up again on
//      the same incarnation after SIGCONT;
//   3. a cut cable (the member's switch-side veth set down) is suspected on both sides, and every
//      member is up again, same incarnations, when the cable is back;
//   4. a killed agent (SIGKILL) is suspected within TO + slack, confirmed down, and up again on a
//      larger incarnation once restarted.
// Timing (see docs/fd.md, "Namespace tests"): the heartbeat period is 5 ms and the host bounds of
// fixtures/fd-three-hosts.yaml are those of the js engine on a loaded 2-vCPU machine (TO ≈ 69 ms),
// so a live member is suspected only if one heartbeat is ~64 ms late. The detection bound asserted
// is 2·TO + DETECTION_ALLOWANCE_MS (λ_max < TO for the last heartbeat in flight, plus the engine's
// slack on a loaded CI machine, generously), well under the confirm time; "never before TO after
// the last heartbeat" is exact. TO and the measured slack are printed.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/client/client.js';
import { connect } from '../../src/client/connect.js';
import type { FailureDetector } from '../../src/client/failure-detector.js';
import { monotonicNs } from '../../src/engine/clock.js';
import type { FdEvent } from '../../src/fd/types.js';
import {
  isRoot,
  listNamespaces,
  NetnsTestbed,
  type NsHost,
  sweepStaleNamespaces,
} from '../../src/testbed/netns.js';
import { parseIperfJson } from '../../src/testbed/traffic.js';
import { CLI, Proc, until } from '../integration/harness.js';

const TOPOLOGY = fileURLToPath(new URL('./fixtures/fd-three-hosts.yaml', import.meta.url));
const TOKEN = 'fd-netns-token';
const GROUP = 'g';
const MEMBERS = ['h1', 'h2', 'h3'] as const;
const PERIOD_MS = 5;
const CONFIRM_NS = 1e9;
const BULK_SECONDS = 8;
const LINK_MBPS = 100;
/** What the engine may add to TO on a loaded CI machine before a suspicion counts as late: the js
 * engine's watchdog wake-up and the agent's event loop (measured tails: a few ms at load 8). */
const DETECTION_ALLOWANCE_MS = 250;

const hasIperf3 = spawnSync('iperf3', ['--version']).status === 0;

if (!isRoot()) console.warn('[fd-netns] skipped: network namespaces need root');
else if (!hasIperf3) console.warn('[fd-netns] skipped: iperf3 is not installed');

type Member = (typeof MEMBERS)[number];

describe.skipIf(!isRoot() || !hasIperf3)('X-FD on three namespace hosts (real agents)', () => {
  let tb: NetnsTestbed;
  let dir: string;
  let ctlHost: NsHost;
  let url: string;
  const hosts = {} as Record<Member, NsHost>;
  const agents = {} as Record<Member, Proc>;
  const clients = new Map<Member, Client>();
  const detectors = new Map<Member, FailureDetector>();
  /** Every change each host's detector reported, in order. */
  const events = new Map<Member, FdEvent[]>();
  const slacksUs: number[] = [];
  const timeoutsUs = new Set<number>();

  const agentArgs = (h: NsHost) => [
    CLI,
    'agent',
    '--controller',
    url,
    '--token',
    TOKEN,
    '--host',
    h.name,
    '--engine',
    'js',
    '--socket',
    join(dir, `${h.name}.sock`),
    '--peers',
    MEMBERS.map((m) => `${m}=${hosts[m].address}`).join(','),
    '--iface',
    h.ifname,
    '--fd',
    `${GROUP}=${MEMBERS.join(',')}`,
    '--fd-period',
    `${PERIOD_MS}ms`,
    '--fd-confirm',
    `${CONFIRM_NS / 1e6}ms`,
    '--log-level',
    'info',
  ];

  const startAgent = (m: Member) => {
    agents[m] = Proc.start(tb, hosts[m].ns, `agent ${m}`, agentArgs(hosts[m]));
    return agents[m];
  };

  /** Subscribes to `m`'s agent; its member changes are appended to events[m]. */
  const follow = async (m: Member) => {
    const client = await until(
      () => connect({ socket: join(dir, `${m}.sock`) }).catch(() => undefined),
      `${m}'s local API`,
      30_000,
    );
    const fd = await client.failureDetector(GROUP);
    const list = events.get(m) ?? [];
    events.set(m, list);
    fd.on('change', (e) => list.push(e));
    clients.set(m, client);
    detectors.set(m, fd);
  };

  const others = (m: Member) => MEMBERS.filter((x) => x !== m);
  const stateOf = (observer: Member, member: Member) => detectors.get(observer)?.member(member);
  const allUp = (observers: readonly Member[]) =>
    observers.every((o) => others(o).every((m) => stateOf(o, m)?.state === 'up'));

  /** The first event at `observer` about `member` after index `from` that matches. */
  const waitEvent = (
    observer: Member,
    from: number,
    pred: (e: FdEvent) => boolean,
    what: string,
    timeoutMs = 15_000,
  ) => until(async () => events.get(observer)!.slice(from).find(pred), `${observer}: ${what}`, timeoutMs);

  const marks = () => new Map(MEMBERS.map((m) => [m, events.get(m)?.length ?? 0]));

  /** The suspicion that followed an injection at `injectedNs`: on time, and never early. */
  const checkDetection = (e: FdEvent, injectedNs: number) => {
    expect(e.cause).toBe('timeout');
    expect(e.timeoutNs).toBeGreaterThan(0);
    // Exact: the engine never suspects before TO has passed since the last heartbeat.
    expect(e.detectedNs - e.lastHeartbeatNs).toBeGreaterThanOrEqual(e.timeoutNs);
    // The last heartbeat left before the injection; it arrived within λ_max (< TO) after it.
    const boundNs = 2 * e.timeoutNs + DETECTION_ALLOWANCE_MS * 1e6;
    expect(e.detectedNs - injectedNs).toBeLessThanOrEqual(boundNs);
    slacksUs.push((e.detectedNs - e.lastHeartbeatNs - e.timeoutNs) / 1000);
    timeoutsUs.add(e.timeoutNs / 1000);
  };

  beforeAll(async () => {
    sweepStaleNamespaces();
    tb = NetnsTestbed.create({ hosts: [...MEMBERS, 'ctl'] });
    dir = mkdtempSync(join(tmpdir(), 'xlane-fd-netns-'));
    for (const m of MEMBERS) hosts[m] = tb.host(m);
    ctlHost = tb.host('ctl');
    url = `http://${ctlHost.address}:7300`;
    const ctl = Proc.start(tb, ctlHost.ns, 'controller', [
      CLI,
      'controller',
      '--topology',
      TOPOLOGY,
      '--db',
      join(dir, 'xlane.db'),
      '--listen',
      `${ctlHost.address}:7300`,
      '--token',
      TOKEN,
    ]);
    await ctl.waitFor((m) => String(m.msg ?? '').includes('controller listening'), 'controller up', 30_000);
    for (const m of MEMBERS) startAgent(m);
    for (const m of MEMBERS) await follow(m);
    await until(async () => allUp(MEMBERS), 'every member up at every member', 45_000);
  }, 90_000);

  afterAll(async () => {
    for (const c of clients.values()) c.destroy();
    // A paused agent must not outlive the test: SIGKILL (by PID, in destroy) works on it too.
    const prefix = tb?.prefix;
    tb?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (prefix) expect(listNamespaces().filter((n) => n.startsWith(`${prefix}-`))).toEqual([]);
    if (slacksUs.length > 0) {
      console.info(
        `[fd-netns] TO ${[...timeoutsUs].join(', ')} µs; engine slack after TO (µs): ${slacksUs.map((s) => s.toFixed(0)).join(', ')}`,
      );
    }
  });

  it(
    'suspects no member while bulk TCP saturates every host egress',
    async () => {
      const from = marks();
      // A ring h1→h2→h3→h1: every host's egress port carries one bulk flow and the heartbeats.
      const flows = MEMBERS.map((m, i) => bulk(tb, hosts[m], hosts[MEMBERS[(i + 1) % 3]!], 5301 + i));
      const results = await Promise.all(flows);
      for (const r of results) expect(r.receivedBps / 1e6).toBeGreaterThan(LINK_MBPS / 2);
      // The heartbeats left through each agent's express class, the bulk through best effort.
      for (const m of MEMBERS) {
        const tc = await tb.exec(hosts[m].ns, ['tc', '-s', 'class', 'show', 'dev', 'eth0']);
        const packets = (cls: string) => {
          const block = tc.stdout.split(/\n(?=class )/).find((b) => b.startsWith(`class htb ${cls} `));
          return Number(/Sent \d+ bytes (\d+) pkt/.exec(block ?? '')?.[1]);
        };
        // Counters since the agent started: at least one destination's heartbeats of the bulk period.
        expect(packets('e1:10')).toBeGreaterThanOrEqual((BULK_SECONDS * 1000) / PERIOD_MS);
        expect(packets('e1:20')).toBeGreaterThan(packets('e1:10'));
      }
      const changes = MEMBERS.flatMap((m) => events.get(m)!.slice(from.get(m)!));
      expect(changes.filter((e) => e.state !== 'up')).toEqual([]);
      expect(allUp(MEMBERS)).toBe(true);
    },
    (BULK_SECONDS + 30) * 1000,
  );

  it('suspects a paused agent (SIGSTOP) within TO + slack, and trusts it again after SIGCONT', async () => {
    const victim: Member = 'h2';
    const incarnation = stateOf('h1', victim)!.incarnation;
    const from = marks();
    const pid = agents[victim].child.pid!;
    const injectedNs = monotonicNs();
    process.kill(pid, 'SIGSTOP');
    try {
      for (const o of others(victim)) {
        const e = await waitEvent(
          o,
          from.get(o)!,
          (x) => x.member === victim && x.state === 'suspect',
          'suspect',
        );
        checkDetection(e, injectedNs);
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    for (const o of others(victim)) {
      const up = await waitEvent(o, from.get(o)!, (x) => x.member === victim && x.state === 'up', 'up again');
      expect(up.cause).toBe('heartbeat');
      expect(up.incarnation).toBe(incarnation);
    }
    await until(async () => allUp(MEMBERS), 'every member up again');
  });

  it('suspects both sides of a cut cable within TO + slack; up again on the same incarnations', async () => {
    const victim: Member = 'h1';
    const incarnations = new Map(MEMBERS.map((m) => [m, stateOf(others(m)[0]!, m)!.incarnation]));
    const port = `p${MEMBERS.indexOf(victim)}`;
    const from = marks();
    const injectedNs = monotonicNs();
    execFileSync('ip', ['-n', tb.switchNs, 'link', 'set', port, 'down']);
    try {
      for (const o of MEMBERS) {
        for (const m of others(o)) {
          if (o !== victim && m !== victim) continue;
          const e = await waitEvent(
            o,
            from.get(o)!,
            (x) => x.member === m && x.state === 'suspect',
            `suspect ${m}`,
          );
          checkDetection(e, injectedNs);
        }
      }
    } finally {
      execFileSync('ip', ['-n', tb.switchNs, 'link', 'set', port, 'up']);
    }
    await until(async () => allUp(MEMBERS), 'every member up again', 30_000);
    for (const o of MEMBERS)
      for (const m of others(o)) expect(stateOf(o, m)!.incarnation).toBe(incarnations.get(m));
  });

  it('suspects a killed agent within TO + slack, confirms it down, and takes its restart as a new incarnation', async () => {
    const victim: Member = 'h3';
    const incarnation = stateOf('h1', victim)!.incarnation;
    const from = marks();
    clients.get(victim)!.destroy();
    clients.delete(victim);
    detectors.delete(victim);
    const injectedNs = monotonicNs();
    await agents[victim].kill();
    for (const o of others(victim)) {
      const e = await waitEvent(
        o,
        from.get(o)!,
        (x) => x.member === victim && x.state === 'suspect',
        'suspect',
      );
      checkDetection(e, injectedNs);
      const down = await waitEvent(o, from.get(o)!, (x) => x.member === victim && x.state === 'down', 'down');
      expect(down.cause).toBe('confirmed');
      expect(down.detectedNs - e.detectedNs).toBeGreaterThanOrEqual(CONFIRM_NS);
    }
    startAgent(victim);
    for (const o of others(victim)) {
      const up = await waitEvent(
        o,
        from.get(o)!,
        (x) => x.member === victim && x.state === 'up',
        'up on a new incarnation',
        45_000,
      );
      expect(up.incarnation).toBeGreaterThan(incarnation);
    }
    await follow(victim);
    await until(async () => allUp(MEMBERS), 'every member up again', 30_000);
  }, 90_000);
});

/** One bounded iperf3 TCP flow between two hosts of the testbed (server and client in their
 * namespaces; the server serves one test and exits, and is killed by PID otherwise). */
async function bulk(tb: NetnsTestbed, from: NsHost, to: NsHost, port: number) {
  const server = tb.spawn(to.ns, [
    'iperf3',
    '-s',
    '-1',
    '--forceflush',
    '-B',
    to.address,
    '-p',
    String(port),
  ]);
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`iperf3 server not listening: ${out}`)), 10_000);
      server.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`iperf3 server exited (${code}): ${out}`));
      });
    });
    const r = await tb.exec(
      from.ns,
      ['iperf3', '-c', to.address, '-p', String(port), '-t', String(BULK_SECONDS), '-J'],
      { timeoutMs: (BULK_SECONDS + 15) * 1000 },
    );
    return parseIperfJson(r.stdout);
  } finally {
    if (server.exitCode === null && server.pid !== undefined) {
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {}
    }
  }
}
