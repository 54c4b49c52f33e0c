// X-FD for real (root only; CI runs as root): three hosts in network namespaces on a bridge, a
// controller in a fourth, and an `xlane agent --fd g=h1,h2,h3` per host — every one a real process
// started from the CLI — followed from the test through the library (`client.failureDetector('g')`
// over each agent's Unix socket).
//
// A ring of bulk TCP flows (iperf3, h1→h2→h3→h1) saturates every host's egress from beforeAll to
// afterAll, so every test runs under cross traffic, and every test asserts that no member was
// suspected that it did not inject (the heartbeats ride the express class of each agent's kernel
// QoS). In order:
//   1. no injection: the bulk really saturates every egress, and nobody is suspected;
//   2. a cut cable (h1's switch-side veth set down) is suspected on both sides on time, and every
//      member is up again, same incarnations, when the cable is back;
//   3. a paused agent (h3, SIGSTOP) is suspected by both others on time, and is up again on the
//      same incarnation after SIGCONT;
//   4. a killed agent (h3, SIGKILL) is suspected on time, confirmed down, and up again on a larger
//      incarnation once restarted.
// "On time" (docs/fd.md, "Namespace tests") is tied to what the detecting engine measured of
// itself. The js engine's watchdog runs on its pacing worker, the thread that also releases the
// agent's own heartbeats, so a stall that makes the watchdog late also delays a release: the slack
// after TO may exceed that lane's largest release delay (`xlane_lane_max_release_delay_seconds`,
// read from the agent's /metrics after the detection) by at most one heartbeat period, the most a
// stall can end between a deadline and the next boundary. That gauge is a maximum since the agent
// started and never goes down, and a paused agent records its pause in it. So the pause falls on
// the agent that is killed (and restarted afresh) next, after the cut test, the only one in which
// that agent observes.
// The heartbeat period is 5 ms and the host bounds of fixtures/fd-three-hosts.yaml are those of
// the js engine on a loaded 2-vCPU machine (TO ≈ 69 ms), so a live member is suspected only if one
// heartbeat is ~64 ms late.
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { classSentPackets } from '../../src/agent/qos/tc-parse.js';
import type { Client } from '../../src/client/client.js';
import { connect } from '../../src/client/connect.js';
import type { FailureDetector } from '../../src/client/failure-detector.js';
import { monotonicNs } from '../../src/engine/clock.js';
import { loadNativeAddon } from '../../src/engine/native/addon.js';
import type { FdEvent } from '../../src/fd/types.js';
import { agentArgv } from '../../src/testbed/agent-options.js';
import {
  isRoot,
  listNamespaces,
  NetnsTestbed,
  type NsHost,
  sweepStaleNamespaces,
} from '../../src/testbed/netns.js';
import { CLI, metric, NsHttp, Proc, until } from '../integration/harness.js';

const TOPOLOGY = fileURLToPath(new URL('./fixtures/fd-three-hosts.yaml', import.meta.url));
const TOKEN = 'fd-netns-token';
const GROUP = 'g';
const MEMBERS = ['h1', 'h2', 'h3'] as const;
const PERIOD_MS = 5;
const CONFIRM_NS = 1e9;
const LINK_MBPS = 100;
/** How long the first test watches the bulk before it judges the saturation. */
const SATURATION_WINDOW_S = 8;
const TEST_TIMEOUT_MS = { saturation: 30_000, pause: 20_000, cut: 40_000, kill: 60_000 };
/** The ring must outlast every test even if each runs to its timeout, yet stop by itself (iperf3
 * -t) should afterAll never run. */
const BULK_SECONDS = Math.min(
  150,
  Math.ceil(Object.values(TEST_TIMEOUT_MS).reduce((a, b) => a + b, 0) / 1000),
);
const METRICS = '127.0.0.1:9464';
/** On top of the measured largest release delay and one period: the watchdog's deadline and a
 * heartbeat boundary are both woken by a timed Atomics.wait and a 30 µs spin, whose timing differs
 * by the wake-up granularity (tens of µs), not by milliseconds. */
const SLACK_MARGIN_NS = 1e6;

const hasIperf3 = spawnSync('iperf3', ['--version']).status === 0;
/** Both engines, the native one (blocking receive: no spinning thread per agent on a small CI
 * machine) when its addon built. */
const ENGINES = loadNativeAddon().ok ? (['js', 'native'] as const) : (['js'] as const);

if (!isRoot()) console.warn('[fd-netns] skipped: network namespaces need root');
else if (!hasIperf3) console.warn('[fd-netns] skipped: iperf3 is not installed');

type Member = (typeof MEMBERS)[number];
/** Whether a non-`up` event at `observer` about `e.member` is what the running test injected. */
type Injected = (observer: Member, e: FdEvent) => boolean;

describe.skipIf(!isRoot() || !hasIperf3)('X-FD on three namespace hosts (real agents)', () => {
  for (const engine of ENGINES)
    describe(`${engine} engine`, () => {
      let tb: NetnsTestbed;
      let dir: string;
      let ctlHost: NsHost;
      let url: string;
      const hosts = {} as Record<Member, NsHost>;
      const agents = {} as Record<Member, Proc>;
      /** One per host namespace: each agent serves /metrics on its own loopback, which neither the
       * bulk nor a cut cable gets in the way of. */
      const scrapers = {} as Record<Member, NsHttp>;
      const clients = new Map<Member, Client>();
      const detectors = new Map<Member, FailureDetector>();
      /** Every change each host's detector reported, in order. */
      const events = new Map<Member, FdEvent[]>();
      let ring: BulkFlow[] = [];
      /** Where each test's window starts (beforeEach), in events and in time. */
      let from = new Map<Member, number>();
      let testStartNs = 0;
      /** What each test measured, printed in afterAll (the bulk rates once the last report is in). */
      const runs: { name: string; startNs: number; endNs: number; lines: string[] }[] = [];
      const note = (line: string) => runs.at(-1)?.lines.push(line);

      // The command line `testbed up --with-agents --fd` gives an agent, plus the test's timings.
      const agentArgs = (h: NsHost) => [
        CLI,
        ...agentArgv(
          { host: h.name, ifname: h.ifname },
          {
            controllerUrl: url,
            token: TOKEN,
            runDir: dir,
            peers: MEMBERS.map((m) => `${m}=${hosts[m].address}`).join(','),
            hostQos: true,
            engine,
            fd: [{ name: GROUP, members: [...MEMBERS] }],
          },
        ),
        '--fd-period',
        `${PERIOD_MS}ms`,
        '--fd-confirm',
        `${CONFIRM_NS / 1e6}ms`,
        '--metrics',
        METRICS,
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
        ).catch((err) => {
          throw agents[m].alive ? err : agents[m].failure('exited before its local API answered');
        });
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

      /** Every suspect or down since the test started must be one the test injected, or one its
       * member earned by going silent itself (see senderSilence). */
      const expectNoFalseSuspicion = (injected: Injected) => {
        // An agent that died on its own is suspected by the others: say why it died instead.
        for (const m of MEMBERS) if (!agents[m].alive) throw agents[m].failure('exited during the test');
        const unexpected = MEMBERS.flatMap((o) => {
          const list = (events.get(o) ?? []).slice(from.get(o)!);
          return list
            .filter((e, i) => e.state !== 'up' && !injected(o, e) && !senderSilence(o, e, list.slice(i + 1)))
            .map((e) => ({ observer: o, member: e.member, state: e.state, cause: e.cause }));
        });
        expect(unexpected).toEqual([]);
      };

      /** Whether `e`, a verdict against a live member, was the member's own doing: the heartbeat
       * that brought it back (the next `up`) was sent so long after the previous one that, taking
       * that one's latency, it could not have arrived before the verdict. The member then sent
       * nothing for as long as its observer waited — its own engine thread stalled (SCHED_OTHER on
       * a machine whose two CPUs every test shares), which the detector is right to call out, as it
       * does a paused agent. Exact: every namespace reads one CLOCK_MONOTONIC. The network and the
       * observer get no such pass: a heartbeat sent in time and suspected anyway still fails. */
      const senderSilence = (observer: Member, e: FdEvent, later: readonly FdEvent[]) => {
        const back = later.find((x) => x.member === e.member && x.state === 'up');
        if (!back || e.lastHeartbeatSentNs === 0) return false;
        const sendGapNs = back.lastHeartbeatSentNs - e.lastHeartbeatSentNs;
        const waitedNs = e.detectedNs - e.lastHeartbeatNs;
        if (sendGapNs < waitedNs) return false;
        note(
          `${observer}: ${e.state} ${e.member} (${e.cause}) — ${e.member} itself sent nothing for ` +
            `${us(sendGapNs)} µs ≥ the ${us(waitedNs)} µs ${observer} waited: its own stall, not a false suspicion`,
        );
        return true;
      };

      /** The largest release delay of `observer`'s own FD heartbeat lane since its agent started. */
      const maxReleaseDelayNs = async (observer: Member) => {
        const lane = others(observer)
          .map((x) => stateOf(x, observer)?.laneId)
          .find((l) => l !== undefined);
        expect(lane, `${observer}'s own FD lane id`).toBeDefined();
        const r = await scrapers[observer].request(`http://${METRICS}/metrics`);
        const s = metric(r.body, 'xlane_lane_max_release_delay_seconds', { lane: lane! });
        expect(s, `${observer}: max release delay of ${lane} (${r.error ?? r.status})`).toBeDefined();
        return s! * 1e9;
      };

      /** The suspicion that followed an injection done between `startNs` and `endNs`: never early,
       * caused by the injected silence, and late by no more than the detecting engine's own measured
       * slack allows. */
      /** `observer`'s suspicion of `member` since this test's marks, checked to be on time. */
      const suspectedOnTime = async (
        observer: Member,
        member: Member,
        injection: { startNs: number; endNs: number },
      ): Promise<FdEvent> => {
        const e = await suspectedBy(observer, member, injection.startNs);
        await checkDetection(observer, e, injection);
        return e;
      };

      /** `observer`'s first suspicion of `member` decided after `sinceNs`, not yet checked. One
       * decided before the injection began is not this injection's: expectNoFalseSuspicion judges it. */
      const suspectedBy = (observer: Member, member: Member, sinceNs: number) =>
        waitEvent(
          observer,
          from.get(observer)!,
          (x) => x.member === member && x.state === 'suspect' && x.detectedNs >= sinceNs,
          `suspect ${member}`,
        );

      const checkDetection = async (
        observer: Member,
        e: FdEvent,
        injection: { startNs: number; endNs: number },
      ) => {
        expect(e.cause).toBe('timeout');
        expect(e.timeoutNs).toBeGreaterThan(0);
        const slackNs = e.detectedNs - e.lastHeartbeatNs - e.timeoutNs;
        // Exact: the engine never suspects before TO has passed since the last heartbeat.
        expect(slackNs).toBeGreaterThanOrEqual(0);
        // Exact (one CLOCK_MONOTONIC for every namespace): the silence is the injected one.
        expect(e.lastHeartbeatSentNs).toBeLessThanOrEqual(injection.endNs);
        // The last heartbeat itself arrived within TO (λ_max < TO, the premise of no false suspicion),
        // so detection − injection ≤ 2·TO + the slack below.
        expect(e.lastHeartbeatNs - e.lastHeartbeatSentNs).toBeLessThan(e.timeoutNs);
        const releaseNs = await maxReleaseDelayNs(observer);
        const allowedNs = releaseNs + PERIOD_MS * 1e6 + SLACK_MARGIN_NS;
        note(
          `${observer}→${e.member}: TO ${us(e.timeoutNs)} µs, slack ${us(slackNs)} µs ≤ ${us(allowedNs)} µs ` +
            `(max release delay ${us(releaseNs)} µs), last heartbeat took ${us(e.lastHeartbeatNs - e.lastHeartbeatSentNs)} µs, ` +
            `detected ${us(e.detectedNs - injection.startNs)} µs after the injection began`,
        );
        expect(slackNs).toBeLessThanOrEqual(allowedNs);
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
        await ctl.waitFor(
          (m) => String(m.msg ?? '').includes('controller listening'),
          'controller up',
          30_000,
        );
        for (const m of MEMBERS) startAgent(m);
        for (const m of MEMBERS) scrapers[m] = await NsHttp.start(tb, hosts[m].ns, `metrics ${m}`);
        for (const m of MEMBERS) await follow(m);
        await until(async () => allUp(MEMBERS), 'every member up at every member', 45_000);
        // A ring: every host's egress port carries one bulk flow besides the heartbeats.
        ring = await Promise.all(
          MEMBERS.map((m, i) => BulkFlow.start(tb, hosts[m], hosts[MEMBERS[(i + 1) % 3]!], 5301 + i)),
        );
      }, 120_000);

      beforeEach((ctx) => {
        from = marks();
        testStartNs = monotonicNs();
        runs.push({ name: ctx.task.name, startNs: testStartNs, endNs: 0, lines: [] });
      });

      afterEach(() => {
        runs.at(-1)!.endNs = monotonicNs();
      });

      afterAll(async () => {
        // A test shorter than iperf3's 1 s report is covered by the report read after it.
        if (ring.length > 0) await new Promise((r) => setTimeout(r, 1_200));
        for (const f of ring) f.stop();
        const report = runs.flatMap((t) => [
          `${t.name}: ${Math.round((t.endNs - t.startNs) / 1e6)} ms; bulk Mbit/s ${ring
            .map((f) => `${f.label} ${f.meanMbps(t.startNs, t.endNs + 1e9).toFixed(1)}`)
            .join(', ')}`,
          ...t.lines.map((l) => `  ${l}`),
        ]);
        for (const c of clients.values()) c.destroy();
        // A paused agent must not outlive the test: SIGKILL (by PID, in destroy) works on it too.
        const prefix = tb?.prefix;
        tb?.destroy();
        if (dir) rmSync(dir, { recursive: true, force: true });
        if (prefix) expect(listNamespaces().filter((n) => n.startsWith(`${prefix}-`))).toEqual([]);
        for (const f of ring) if (f.failure) report.push(`bulk ${f.label} ended early: ${f.failure}`);
        if (report.length > 0) console.info(`[fd-netns]\n  ${report.join('\n  ')}`);
      });

      it(
        'suspects no member while bulk TCP saturates every host egress',
        async () => {
          await new Promise((r) => setTimeout(r, SATURATION_WINDOW_S * 1000));
          const endNs = monotonicNs();
          for (const f of ring) {
            // iperf3 reports once a second; the window's first and last second may be cut.
            expect(f.samples(testStartNs, endNs).length).toBeGreaterThanOrEqual(SATURATION_WINDOW_S - 2);
            expect(f.meanMbps(testStartNs, endNs), f.label).toBeGreaterThan(LINK_MBPS / 2);
          }
          // The heartbeats left through each agent's express class, the bulk through best effort.
          for (const m of MEMBERS) {
            const tc = await tb.exec(hosts[m].ns, ['tc', '-s', 'class', 'show', 'dev', 'eth0']);
            const express = classSentPackets(tc.stdout, 'e1:10');
            const bestEffort = classSentPackets(tc.stdout, 'e1:20');
            expect(express, `${m}: express class`).toBeDefined();
            // Counters since the agent started: at least one destination's heartbeats of the window.
            expect(express!).toBeGreaterThanOrEqual((SATURATION_WINDOW_S * 1000) / PERIOD_MS);
            expect(bestEffort!).toBeGreaterThan(express!);
          }
          expectNoFalseSuspicion(() => false);
          expect(allUp(MEMBERS)).toBe(true);
        },
        TEST_TIMEOUT_MS.saturation,
      );

      it(
        'suspects both sides of a cut cable on time; up again on the same incarnations',
        async () => {
          const victim: Member = 'h1';
          const incarnations = new Map(MEMBERS.map((m) => [m, stateOf(others(m)[0]!, m)!.incarnation]));
          const port = `p${MEMBERS.indexOf(victim)}`;
          const cut = MEMBERS.flatMap((o) =>
            others(o)
              .filter((m) => o === victim || m === victim)
              .map((m) => [o, m] as const),
          );
          const startNs = monotonicNs();
          execFileSync('ip', ['-n', tb.switchNs, 'link', 'set', port, 'down']);
          const injection = { startNs, endNs: monotonicNs() };
          let suspicions: FdEvent[];
          let upNs: number;
          // The cable is back as soon as every side has suspected: the checks below read each
          // agent's /metrics, which on a loaded machine may take longer than the confirmation time.
          try {
            suspicions = await Promise.all(cut.map(([o, m]) => suspectedBy(o, m, startNs)));
          } finally {
            execFileSync('ip', ['-n', tb.switchNs, 'link', 'set', port, 'up']);
            upNs = monotonicNs();
          }
          for (const [i, [o]] of cut.entries()) await checkDetection(o, suspicions[i]!, injection);
          await until(async () => allUp(MEMBERS), 'every member up again', 30_000);
          for (const o of MEMBERS)
            for (const m of others(o)) expect(stateOf(o, m)!.incarnation).toBe(incarnations.get(m));
          // A cable down for longer than the confirmation time is a confirmed failure: `down` is then
          // the right answer (only when the test itself was too slow to put it back sooner).
          const confirmable = upNs - startNs >= CONFIRM_NS;
          note(`cable down ${us(upNs - startNs)} µs`);
          // The bulk flows through h1 stall meanwhile (TCP retransmits and carries on); not judged.
          expectNoFalseSuspicion(
            (o, e) =>
              (o === victim) !== (e.member === victim) &&
              e.detectedNs >= startNs &&
              (e.state === 'suspect' || (confirmable && e.state === 'down')),
          );
        },
        TEST_TIMEOUT_MS.cut,
      );

      it(
        'suspects a paused agent (SIGSTOP) on time, and trusts it again after SIGCONT',
        async () => {
          const victim: Member = 'h3';
          const incarnation = stateOf('h1', victim)!.incarnation;
          const pid = agents[victim].child.pid!;
          const startNs = monotonicNs();
          process.kill(pid, 'SIGSTOP');
          let continuedNs = Number.POSITIVE_INFINITY;
          try {
            // kill() returns once the signal is queued; the agent's threads stop a moment later. A
            // tight wait, because the injection ends when they have.
            const giveUp = Date.now() + 5_000;
            while (!stopped(pid)) if (Date.now() > giveUp) throw new Error(`${victim} did not stop`);
            const injection = { startNs, endNs: monotonicNs() };
            for (const o of others(victim)) {
              await suspectedOnTime(o, victim, injection);
            }
          } finally {
            continuedNs = monotonicNs();
            process.kill(pid, 'SIGCONT');
          }
          for (const o of others(victim)) {
            const up = await waitEvent(
              o,
              from.get(o)!,
              (x) => x.member === victim && x.state === 'up',
              'up again',
            );
            expect(up.cause).toBe('heartbeat');
            expect(up.incarnation).toBe(incarnation);
          }
          await until(async () => allUp(MEMBERS), 'every member up again');
          const own = events
            .get(victim)!
            .slice(from.get(victim)!)
            .filter((e) => e.state === 'suspect');
          note(
            `${victim} itself, once resumed, suspected ${own.map((e) => e.member).join(', ') || 'nobody'}`,
          );
          // The paused agent's own watchdog stood still with it: once resumed, the heartbeats queued
          // in its socket arrive past their deadline, and it suspects their senders for an instant.
          expectNoFalseSuspicion(
            (o, e) =>
              e.state === 'suspect' &&
              (e.member === victim
                ? o !== victim && e.detectedNs >= startNs
                : o === victim && e.detectedNs >= continuedNs),
          );
        },
        TEST_TIMEOUT_MS.pause,
      );

      it(
        'suspects a killed agent on time, confirms it down, and takes its restart as a new incarnation',
        async () => {
          const victim: Member = 'h3';
          const incarnation = stateOf('h1', victim)!.incarnation;
          clients.get(victim)!.destroy();
          clients.delete(victim);
          detectors.delete(victim);
          const startNs = monotonicNs();
          await agents[victim].kill();
          const injection = { startNs, endNs: monotonicNs() };
          for (const o of others(victim)) {
            const e = await suspectedOnTime(o, victim, injection);
            const down = await waitEvent(
              o,
              from.get(o)!,
              (x) => x.member === victim && x.state === 'down',
              'down',
            );
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
          expectNoFalseSuspicion((o, e) => e.member === victim && o !== victim && e.detectedNs >= startNs);
        },
        TEST_TIMEOUT_MS.kill,
      );
    });
});

const us = (ns: number) => (ns / 1000).toFixed(0);

/** Whether every thread of `pid` is stopped (by a signal) or traced. */
function stopped(pid: number): boolean {
  const tasks = readdirSync(`/proc/${pid}/task`);
  return tasks.every((t) => {
    const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    return /^[Tt]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  });
}

/** One iperf3 TCP flow between two hosts of the testbed for BULK_SECONDS: the client stops by
 * itself (-t), the server after that one test (-1); both are killed by PID otherwise. The
 * receiver's per-second reports are kept with the time they were read, so each test can tell
 * what the flow carried while it ran. */
class BulkFlow {
  private readonly reports: { atNs: number; mbps: number }[] = [];
  /** Why the flow ended before its time, if it did (a cut cable may break it; not a failure). */
  failure: string | undefined;
  private stopping = false;

  private constructor(
    readonly label: string,
    private readonly server: ChildProcess,
    private client?: ChildProcess,
  ) {}

  static async start(tb: NetnsTestbed, from: NsHost, to: NsHost, port: number): Promise<BulkFlow> {
    const server = tb.spawn(to.ns, [
      'iperf3',
      '-s',
      '-1',
      '--forceflush',
      '-f',
      'm',
      '-i',
      '1',
      '-B',
      to.address,
      '-p',
      String(port),
    ]);
    const flow = new BulkFlow(`${from.name}→${to.name}`, server);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`iperf3 server not listening: ${out}`)), 10_000);
      server.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        let nl = out.indexOf('\n');
        while (nl >= 0) {
          flow.line(out.slice(0, nl));
          if (out.slice(0, nl).includes('listening')) {
            clearTimeout(timer);
            resolve();
          }
          out = out.slice(nl + 1);
          nl = out.indexOf('\n');
        }
      });
      server.once('exit', (code) => {
        clearTimeout(timer);
        flow.ended(`server exited (${code})`);
        reject(new Error(`iperf3 server exited (${code}): ${out}`));
      });
    }).catch((err) => {
      flow.stop();
      throw err;
    });
    const client = tb.spawn(from.ns, [
      'iperf3',
      '-c',
      to.address,
      '-p',
      String(port),
      '-t',
      String(BULK_SECONDS),
    ]);
    client.stdout!.resume();
    let err = '';
    client.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err = (err + d).slice(-400);
    });
    client.once('exit', (code) => flow.ended(`client exited (${code}) ${err.trim()}`));
    flow.client = client;
    return flow;
  }

  /** The receiver's per-second reports read between `fromNs` and `toNs`. */
  samples(fromNs: number, toNs: number): number[] {
    return this.reports.filter((r) => r.atNs > fromNs && r.atNs <= toNs).map((r) => r.mbps);
  }

  meanMbps(fromNs: number, toNs: number): number {
    const s = this.samples(fromNs, toNs);
    return s.length === 0 ? 0 : s.reduce((a, b) => a + b, 0) / s.length;
  }

  stop(): void {
    this.stopping = true;
    for (const p of [this.client, this.server]) {
      if (p && p.exitCode === null && p.signalCode === null && p.pid !== undefined) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {}
      }
    }
  }

  private line(text: string): void {
    // "[  5]   3.00-4.00   sec  11.2 MBytes  94.1 Mbits/sec": one second's interval, not the
    // totals iperf3 prints at the end.
    const m = /\s(\d+\.\d+)-(\d+\.\d+)\s+sec\s.*?\s(\d+(?:\.\d+)?) Mbits\/sec/.exec(text);
    if (m && Number(m[2]) - Number(m[1]) <= 1.5)
      this.reports.push({ atNs: monotonicNs(), mbps: Number(m[3]) });
  }

  private ended(why: string): void {
    if (!this.stopping && this.failure === undefined) this.failure = why;
  }
}
