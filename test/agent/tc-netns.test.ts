// The real thing: TcManager driving the real `tc` on a veth inside a throwaway network namespace
// (root only; the namespace has a unique name and is deleted in finally). Besides the state, it
// checks that the kernel really classifies: DSCP-46 and lane-port packets land in the express class.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { processHasNetAdmin } from '../../src/agent/capabilities.js';
import { desiredQos } from '../../src/agent/qos/desired.js';
import { DscpMarker, execNftRunner } from '../../src/agent/qos/dscp-marker.js';
import { TcManager } from '../../src/agent/qos/tc-manager.js';
import { classSentPackets, parseClassText } from '../../src/agent/qos/tc-parse.js';
import { execTcRunner } from '../../src/agent/qos/tc-runner.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { startController } from '../../src/controller/server.js';
import { testbed } from '../controller/helpers.js';
import { FakeEngine } from './fake-engine.js';
import { grant, PEERS } from './grants.js';

function have(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const canRun = processHasNetAdmin() && have('ip', ['-V']) && have('tc', ['-V']) && have('python3', ['-V']);
// .ci/run installs nftables; without it the agent runs without kernel DSCP marking (and says so).
const canMark = canRun && have('nft', ['-v']);
const OPTS = { host: 'h1', linkRateBps: 1e9, expressShare: 0.2, dscp: 46 };

function withNetns(fn: (ns: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const ns = `xlq-${process.pid}-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
      ip('link', 'add', 'xv0', 'type', 'veth', 'peer', 'name', 'xv1');
      ip('addr', 'add', '10.77.0.1/24', 'dev', 'xv0');
      ip('link', 'set', 'xv0', 'up');
      ip('link', 'set', 'xv1', 'up');
      // A static neighbour, so packets to .9 leave through xv0's egress without ARP.
      ip('neigh', 'add', '10.77.0.9', 'lladdr', '02:00:00:00:00:09', 'dev', 'xv0');
      await fn(ns);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  };
}

const sh = (ns: string, ...args: string[]) =>
  execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });

/** Packets sent through one HTB class, from `tc -s class show`. */
function classPackets(ns: string, dev: string, classid: string): number {
  const text = sh(ns, 'tc', '-s', 'class', 'show', 'dev', dev);
  const sent = classSentPackets(text, classid);
  if (sent === undefined) throw new Error(`no stats for ${classid} in:\n${text}`);
  return sent;
}

/** Sends `count` UDP datagrams out of the veth with the given TOS and source port. */
function sendUdp(ns: string, tos: number, sport: number, count: number): void {
  const py =
    'import socket,sys\n' +
    's=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n' +
    's.setsockopt(socket.IPPROTO_IP,socket.IP_TOS,int(sys.argv[1]))\n' +
    "s.bind(('10.77.0.1',int(sys.argv[2])))\n" +
    "for _ in range(int(sys.argv[3])): s.sendto(b'x'*32,('10.77.0.9',9))\n";
  sh(ns, 'python3', '-c', py, String(tos), String(sport), String(count));
}

describe.skipIf(!canRun)('TcManager with the real tc in a network namespace', () => {
  it(
    'installs, is idempotent, classifies express traffic, follows lanes and removes cleanly',
    withNetns(async (ns) => {
      const m = new TcManager(execTcRunner({ netns: ns }), 'xv0');
      const desired = desiredQos([grant('L1', { srcPort: 20_001 })], 'xv0', OPTS);
      expect((await m.reconcile(desired)).length).toBeGreaterThan(0);
      expect(m.originalRoot).toMatchObject({ kind: 'noqueue', handle: '0:' });
      expect(await m.reconcile(desired)).toEqual([]);
      const classes = sh(ns, 'tc', 'class', 'show', 'dev', 'xv0');
      expect(classes).toContain('class htb e1:10 parent e1:1 prio 0 rate 200Mbit ceil 1Gbit');
      expect(classes).toContain('class htb e1:20 parent e1:1 prio 1 rate 800Mbit ceil 1Gbit');
      // Every class banks 200 µs of its rate (and of the link rate for its ceil).
      expect(parseClassText(classes).map((c) => [c.classid, c.burstBytes, c.cburstBytes])).toEqual(
        expect.arrayContaining([
          ['e1:1', 25_000, 25_000],
          ['e1:10', 5_000, 25_000],
          ['e1:20', 20_000, 25_000],
        ]),
      );

      const before10 = classPackets(ns, 'xv0', 'e1:10');
      const before20 = classPackets(ns, 'xv0', 'e1:20');
      sendUdp(ns, 0xb8, 31_000, 3); // DSCP 46 → express
      sendUdp(ns, 0, 20_001, 2); // the lane's source port, unmarked → express
      sendUdp(ns, 0, 31_001, 4); // anything else → best effort
      expect(classPackets(ns, 'xv0', 'e1:10') - before10).toBe(5);
      expect(classPackets(ns, 'xv0', 'e1:20') - before20).toBeGreaterThanOrEqual(4);

      // The lane moves to another port: one filter out, one in, nothing else touched.
      const moved = await m.reconcile(desiredQos([grant('L1', { srcPort: 20_002 })], 'xv0', OPTS));
      expect(moved.map((c) => `${c[0]} ${c[1]}`)).toEqual(['filter del', 'filter add']);
      expect(await m.reconcile(desiredQos([grant('L1', { srcPort: 20_002 })], 'xv0', OPTS))).toEqual([]);

      // Drift: someone deletes the whole qdisc; the next pass puts everything back.
      sh(ns, 'tc', 'qdisc', 'del', 'dev', 'xv0', 'root');
      expect((await m.resync()).length).toBe(1 + 3 + 2);
      expect(await m.resync()).toEqual([]);

      // A burst the kernel keeps only to the microsecond is still in sync once applied.
      const odd = desiredQos([grant('L1', { srcPort: 20_002 })], 'xv0', { ...OPTS, htbBurstNs: 150_500 });
      expect((await m.reconcile(odd)).length).toBe(3);
      expect(await m.reconcile(odd)).toEqual([]);

      expect(await m.remove()).toMatchObject({ kind: 'noqueue', handle: '0:' });
      expect(sh(ns, 'tc', 'class', 'show', 'dev', 'xv0').trim()).toBe('');
    }),
  );

  it.skipIf(!canMark)(
    'DscpMarker: unmarked frames of a lane port leave with the express DSCP and are classified by it alone',
    withNetns(async (ns) => {
      // No lanes in the tc state: only the DSCP filter can put a frame in the express class.
      await new TcManager(execTcRunner({ netns: ns }), 'xv0').reconcile(desiredQos([], 'xv0', OPTS));
      const marker = new DscpMarker(execNftRunner({ netns: ns }));
      const marking = { dscp: 46, ports: [20_001, 20_002, 20_003, 20_009] };
      expect(await marker.reconcile(marking)).toBe(true);
      expect(await marker.reconcile(marking)).toBe(false); // the real nft's listing reads back equal

      const before10 = classPackets(ns, 'xv0', 'e1:10');
      const before20 = classPackets(ns, 'xv0', 'e1:20');
      sendUdp(ns, 0, 20_002, 3); // a lane's port, sent with TOS 0 → marked in the output hook
      sendUdp(ns, 0, 31_001, 4); // anything else stays unmarked
      expect(classPackets(ns, 'xv0', 'e1:10') - before10).toBe(3);
      expect(classPackets(ns, 'xv0', 'e1:20') - before20).toBeGreaterThanOrEqual(4);

      await marker.remove();
      expect(sh(ns, 'nft', 'list', 'tables')).not.toContain('xlane');
      sendUdp(ns, 0, 20_002, 2);
      expect(classPackets(ns, 'xv0', 'e1:10') - before10).toBe(3);
    }),
  );

  it(
    'the agent installs QoS at start, adds a filter for a live lane it sends, removes it all on close',
    withNetns(async (ns) => {
      const c = await startController({ topology: testbed(), dbPath: ':memory:', listen: '127.0.0.1:0' });
      try {
        const engine = new FakeEngine();
        const agent = await Agent.start({
          host: 'h1',
          controller: new ControllerClient({ url: c.url }),
          engine,
          peers: PEERS,
          qos: {
            iface: 'xv0',
            runner: execTcRunner({ netns: ns }),
            ...(canMark ? { nft: execNftRunner({ netns: ns }) } : {}),
            resyncMs: 0,
          },
        });
        try {
          await agent.ready;
          expect(agent.status().qos).toBe(true);
          expect(sh(ns, 'tc', 'class', 'show', 'dev', 'xv0')).toContain('class htb e1:10 parent e1:1 prio 0');
          const lane = await agent.openLane({ receivers: ['h2'], maxPayloadBytes: 64, minPeriodNs: 100_000 });
          expect(lane.state).toBe('live');
          const port = lane.grant.srcPort.toString(16).padStart(4, '0');
          expect(sh(ns, 'tc', 'filter', 'show', 'dev', 'xv0')).toContain(`match ${port}0000/ffff0000 at 20`);
          if (canMark)
            expect(sh(ns, 'nft', 'list', 'table', 'ip', 'xlane')).toContain(
              `udp sport ${lane.grant.srcPort} ip dscp set ef`,
            );
        } finally {
          await agent.close();
        }
        if (canMark) expect(sh(ns, 'nft', 'list', 'tables')).not.toContain('xlane');
        expect(sh(ns, 'tc', '-j', 'qdisc', 'show', 'dev', 'xv0')).toContain('"kind":"noqueue"');
        expect(engine.closed).toBe(true);
      } finally {
        await c.close();
      }
    }),
  );
});
