// `xlane testbed up|status|down` for real (root): the CLI as a process builds testbed-3 in
// namespaces, DSCP-46 packets land in the express class of the switch's egress port and unmarked
// ones in best effort, `--fifo` has one class, and down — or a failure midway — leaves nothing.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { parseClassText } from '../../src/agent/qos/tc-parse.js';
import { isXlaneError } from '../../src/errors.js';
import { deleteNamespaces, testbedNamespaces } from '../../src/testbed/apply.js';
import { testbedDown, testbedUp } from '../../src/testbed/lifecycle.js';
import { isRoot } from '../../src/testbed/netns.js';
import type { TestbedState } from '../../src/testbed/state.js';
import type { TestbedStatus } from '../../src/testbed/status.js';
import { runCrossTraffic } from '../../src/testbed/traffic.js';
import { loadTopologyFile } from '../../src/topology/load.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('./fixtures/testbed-cli.ts', import.meta.url));
const TESTBED3 = join(REPO, 'examples/testbed-3.yaml');
const runsDir = mkdtempSync(join(tmpdir(), 'xlane-testbed-'));
// Unique per test process so parallel runs on one machine never share a testbed.
const NAME = (tag: string) => `t${process.pid}${tag}`;
const used = new Set<string>();
const hasIperf3 = spawnSync('iperf3', ['--version']).status === 0;

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'testbed', ...args, '--runs-dir', runsDir], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function up(tag: string, extra: string[] = []): TestbedState {
  const name = NAME(tag);
  used.add(name);
  const r = cli(['up', '--topology', TESTBED3, '--name', name, '--json', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as TestbedState;
}

/** CPUs allowed to each iperf3 process serving or using `port`, from /proc. */
function iperf3Affinities(port: number): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv.includes('iperf3') && !argv[0]?.endsWith('iperf3')) continue;
      if (!argv.includes(String(port))) continue;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      out.push(/Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? '?');
    } catch {} // gone meanwhile
  }
  return out;
}

/** classid → [burst, cburst] as the kernel holds them (tc class show). */
function heldBursts(netns: string, dev: string): Record<string, [number?, number?]> {
  const text = execFileSync('tc', ['-n', netns, 'class', 'show', 'dev', dev], { encoding: 'utf8' });
  return Object.fromEntries(parseClassText(text).map((c) => [c.classid, [c.burstBytes, c.cburstBytes]]));
}

function status(name: string): TestbedStatus {
  const r = cli(['status', '--name', name, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as TestbedStatus;
}

/** Packets counted so far in each class of the switch port towards `host`. */
function switchPortPackets(name: string, host: string): Record<string, number> {
  const port = status(name).ports.find((p) => p.node === 's1' && p.peer === host)!;
  expect(port.error).toBeUndefined();
  return Object.fromEntries(port.classes.map((c) => [port.roles[c.classid] ?? c.classid, c.sentPackets]));
}

function sendUdp(ns: string, to: string, tos: number, count: number): void {
  const py =
    'import socket,sys\n' +
    's=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n' +
    's.setsockopt(socket.IPPROTO_IP,socket.IP_TOS,int(sys.argv[1]))\n' +
    "for _ in range(int(sys.argv[3])): s.sendto(b'x'*32,(sys.argv[2],7400))\n";
  execFileSync('ip', ['netns', 'exec', ns, 'python3', '-c', py, String(tos), to, String(count)]);
}

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

/** The PIDs that still exist after up to 5 s: stopped processes belong to init by then, and init
 * reaps them in its own time. */
async function stillRunning(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 100 && !pids.every(gone); i++) await new Promise((r) => setTimeout(r, 50));
  return pids.filter((pid) => !gone(pid));
}

function ns(state: TestbedState, host: string): string {
  return state.plan.addresses.find((a) => a.host === host)!.ns;
}

describe('testbed without root or state', () => {
  afterEach(() => vi.restoreAllMocks());

  it('up without root: XL_ERR_NOT_ROOT, nothing touched', () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    try {
      testbedUp(loadTopologyFile(TESTBED3), { name: 'never', runsDir });
      expect.unreachable();
    } catch (err) {
      expect(isXlaneError(err) && err.code).toBe('XL_ERR_NOT_ROOT');
    }
    expect(existsSync(join(runsDir, 'never'))).toBe(false);
  });

  it('up refuses a bad --engine, --fd or --htb-burst, or --engine/--fd without --with-agents, before building anything', () => {
    const upWith = (...extra: string[]) =>
      cli(['up', '--topology', TESTBED3, '--name', 'never', '--with-agents', ...extra]);
    for (const r of [
      upWith('--engine', 'fast'),
      upWith('--fd', 'g1=h1,h9'),
      cli(['up', '--topology', TESTBED3, '--name', 'never', '--engine', 'js']),
      cli(['up', '--topology', TESTBED3, '--name', 'never', '--htb-burst', '500ns']),
    ]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /XL_ERR_VALIDATION: (--engine must be js or native|--fd g1: h9|--engine: only|--htb-burst must be 1us\.\.100ms)/,
      );
    }
    expect(existsSync(join(runsDir, 'never'))).toBe(false);
  });

  it('status of a testbed that is not there: XL_ERR_NOT_FOUND and exit 1', () => {
    const r = cli(['status', '--name', 'absent']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/XL_ERR_NOT_FOUND/);
  });
});

// Each test starts several real processes (CLI, agents, iperf3) on 2 shared vCPUs: generous bound.
describe.skipIf(!isRoot())('xlane testbed in network namespaces', { timeout: 90_000 }, () => {
  afterAll(() => {
    // Whatever a failed assertion left behind.
    for (const name of used) deleteNamespaces(testbedNamespaces(name));
    rmSync(runsDir, { recursive: true, force: true });
  });

  it('up builds testbed-3, classifies DSCP 46 into express and the rest into best effort; down removes it', () => {
    const state = up('x');
    const name = state.name;
    expect(testbedNamespaces(name).sort()).toEqual(state.namespaces.slice().sort());
    expect(state.namespaces).toHaveLength(4);
    expect(state.peers).toBe('h1=10.77.0.1,h2=10.77.0.2,h3=10.77.0.3');
    const onDisk = JSON.parse(readFileSync(join(runsDir, name, 'testbed.json'), 'utf8')) as TestbedState;
    expect(onDisk.namespaces).toEqual(state.namespaces);

    // Reachability through the bridge (and the ARP entry, so every UDP packet below leaves at once).
    execFileSync('ip', ['netns', 'exec', ns(state, 'h1'), 'ping', '-c', '1', '-W', '2', '10.77.0.2']);
    const st = status(name);
    expect(st.up).toBe(true);
    expect(st.ports).toHaveLength(6);
    for (const p of st.ports) expect(p.classes.map((c) => c.classid)).toEqual(['1:1', '1:10', '1:20']);
    // Each class banks 200 µs of its rate (ceil: of the port rate), so late HTB timers cost no throughput.
    expect(heldBursts(ns(state, 'h1'), 'eth0')).toEqual({
      '1:1': [25_000, 25_000],
      '1:10': [5_000, 25_000],
      '1:20': [20_000, 25_000],
    });

    const before = switchPortPackets(name, 'h2');
    sendUdp(ns(state, 'h1'), '10.77.0.2', 0xb8, 5);
    sendUdp(ns(state, 'h1'), '10.77.0.2', 0, 3);
    const after = switchPortPackets(name, 'h2');
    expect(after.express! - before.express!).toBe(5);
    // ≥: the kernel may add its own unmarked packets (IPv6 neighbour discovery) meanwhile.
    expect(after['best-effort']! - before['best-effort']!).toBeGreaterThanOrEqual(3);
    // The other switch ports saw none of this express traffic.
    expect(switchPortPackets(name, 'h3').express).toBe(0);

    const again = cli(['up', '--topology', TESTBED3, '--name', name]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/XL_ERR_DUPLICATE/);
    expect(testbedNamespaces(name)).toHaveLength(4); // the refused `up` did not touch the live one

    const down = cli(['down', '--name', name, '--json']);
    expect(down.code, down.stderr).toBe(0);
    expect(JSON.parse(down.stdout).removed.sort()).toEqual(state.namespaces.slice().sort());
    expect(testbedNamespaces(name)).toEqual([]);
    expect(existsSync(join(runsDir, name, 'testbed.json'))).toBe(false);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`xtb-${name}-`);
  });

  it('--fifo: one class per port, express-marked packets share it', () => {
    const state = up('f', ['--fifo', '--htb-burst', '100us']);
    try {
      expect(state.plan.mode).toBe('fifo');
      // 100 µs of 1 Gbit/s is 12,500 B; the kernel keeps it in 64 ns ticks and tc prints 99 µs back.
      const held = heldBursts(ns(state, 'h1'), 'eth0');
      expect(Object.keys(held).sort()).toEqual(['1:1', '1:10']);
      for (const b of Object.values(held).flat()) {
        expect(b).toBeGreaterThanOrEqual(12_250);
        expect(b).toBeLessThanOrEqual(12_500);
      }
      execFileSync('ip', ['netns', 'exec', ns(state, 'h1'), 'ping', '-c', '1', '-W', '2', '10.77.0.3']);
      for (const p of status(state.name).ports)
        expect(p.classes.map((c) => c.classid)).toEqual(['1:1', '1:10']);
      const before = switchPortPackets(state.name, 'h3');
      sendUdp(ns(state, 'h1'), '10.77.0.3', 0xb8, 4);
      expect(switchPortPackets(state.name, 'h3').all! - before.all!).toBeGreaterThanOrEqual(4);
    } finally {
      testbedDown(runsDir, state.name);
    }
    expect(testbedNamespaces(state.name)).toEqual([]);
  });

  it('a failure midway (a rate tc refuses, on the last port) removes everything built so far', () => {
    const name = NAME('e');
    used.add(name);
    let failed: unknown;
    try {
      testbedUp(loadTopologyFile(TESTBED3), {
        name,
        runsDir,
        mutatePlan: (plan) => {
          plan.ports.at(-1)!.classes[0]!.rateBps = -1;
        },
      });
    } catch (err) {
      failed = err;
    }
    expect(isXlaneError(failed) && failed.code).toBe('XL_ERR_KERNEL');
    expect((failed as Error).message).toMatch(/^tc -n xtb-/);
    expect(testbedNamespaces(name)).toEqual([]);
    expect(existsSync(join(runsDir, name, 'testbed.json'))).toBe(false);
  });

  it('--with-agents: controller and an agent per host run in the namespaces, in sync; down stops them all', async () => {
    // js: three busy-polling native engines would take both shared vCPUs for the whole test.
    const state = up('a', ['--with-agents', '--engine', 'js', '--fd', 'g1=h1,h2']);
    const dir = join(runsDir, state.name);
    try {
      const procs = state.agents!.processes;
      expect(procs.map((p) => `${p.role}:${p.host ?? ''}`)).toEqual([
        'controller:',
        'agent:h1',
        'agent:h2',
        'agent:h3',
      ]);
      for (const p of procs.filter((x) => x.role === 'agent')) {
        expect(readFileSync(p.log, 'utf8')).toContain('in sync with the controller');
        // The recorded PID is `ip netns exec`, which became the agent: its own argv.
        const argv = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
        expect(argv[argv.indexOf('--engine') + 1]).toBe('js');
        expect(argv.filter((_, i) => argv[i - 1] === '--fd')).toEqual(p.host === 'h3' ? [] : ['g1=h1,h2']);
      }
      expect(state.agents!.engine).toBe('js');
      const st = status(state.name);
      expect(st.agents!.engine).toBe('js');
      expect(st.agents!.processes.every((p) => p.alive)).toBe(true);
      // The agents own the host egress qdisc (their e1: HTB); the testbed shapes the switch ports.
      const h1 = st.ports.find((p) => p.node === 'h1')!;
      expect(h1.error).toBeUndefined();
      expect(h1.classes.map((c) => c.classid)).toContain('e1:10');
      expect(st.ports.filter((p) => p.node === 's1').map((p) => p.classes.length)).toEqual([3, 3, 3]);
      expect(existsSync(join(dir, 'controller.log'))).toBe(true);
    } finally {
      const down = cli(['down', '--name', state.name, '--json']);
      expect(down.code, down.stderr).toBe(0);
      expect(JSON.parse(down.stdout).stopped.sort()).toEqual(
        state.agents!.processes.map((p) => p.pid).sort(),
      );
    }
    expect(await stillRunning(state.agents!.processes.map((p) => p.pid))).toEqual([]);
    expect(testbedNamespaces(state.name)).toEqual([]);
  });

  it('Ctrl-C while --with-agents waits for the agents: processes stopped, namespaces removed', async () => {
    const name = NAME('i');
    used.add(name);
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        CLI,
        'testbed',
        'up',
        '--topology',
        TESTBED3,
        '--name',
        name,
        '--runs-dir',
        runsDir,
        '--with-agents',
      ],
      { cwd: REPO, stdio: 'ignore' },
    );
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const file = join(runsDir, name, 'testbed.json');
    // Interrupt as soon as the first process (the controller) is recorded.
    let recorded: number[] = [];
    for (let i = 0; i < 300 && recorded.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      try {
        recorded =
          (JSON.parse(readFileSync(file, 'utf8')) as TestbedState).agents?.processes.map((p) => p.pid) ?? [];
      } catch {}
    }
    expect(recorded.length).toBeGreaterThan(0);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(testbedNamespaces(name)).toEqual([]);
    expect(existsSync(file)).toBe(false);
    expect(await stillRunning(recorded)).toEqual([]);
  });

  it.skipIf(!hasIperf3)(
    'cross traffic: TCP bulk is shaped to the link rate and goes best effort; paced UDP keeps its rate',
    () => {
      const state = up('c');
      try {
        const before = switchPortPackets(state.name, 'h2');
        const tcp = cli([
          'traffic',
          '--name',
          state.name,
          '--from',
          'h1',
          '--to',
          'h2',
          '--seconds',
          '2',
          '--json',
        ]);
        expect(tcp.code, tcp.stderr).toBe(0);
        const t = JSON.parse(tcp.stdout);
        expect(t.kind).toBe('tcp');
        // HTB caps the 1 Gbit/s port; the lower bound only says bulk really flowed (2 shared vCPUs).
        expect(t.receivedBps).toBeLessThanOrEqual(1.02e9);
        expect(t.receivedBps).toBeGreaterThan(1e8);
        const after = switchPortPackets(state.name, 'h2');
        expect(after.express).toBe(before.express);
        expect(after['best-effort']! - before['best-effort']!).toBeGreaterThan(10_000);

        const udp = cli([
          'traffic',
          '--name',
          state.name,
          '--from',
          'h3',
          '--to',
          'h2',
          '--udp',
          '50Mbit',
          '--seconds',
          '2',
          '--json',
        ]);
        expect(udp.code, udp.stderr).toBe(0);
        const u = JSON.parse(udp.stdout);
        expect(u.kind).toBe('udp');
        expect(Math.abs(u.receivedBps - 5e7) / 5e7).toBeLessThan(0.1);

        const bad = cli(['traffic', '--name', state.name, '--from', 'h1', '--to', 'h9', '--json']);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(/XL_ERR_UNKNOWN_HOST: no host h9/);
      } finally {
        testbedDown(runsDir, state.name);
      }
    },
  );

  it.skipIf(!hasIperf3)('a TCP flow stopped early ends then, with what it measured so far', async () => {
    const state = up('k');
    try {
      const stop = new AbortController();
      const t0 = Date.now();
      let pinned: string[] = [];
      setTimeout(() => {
        pinned = iperf3Affinities(5299);
        stop.abort();
      }, 2_000);
      const r = await runCrossTraffic(state, {
        from: 'h1',
        to: 'h2',
        kind: 'tcp',
        seconds: 60,
        port: 5299,
        cpu: 0,
        intervalSec: 0.5,
        stop: stop.signal,
      });
      // Server and client both ran pinned to CPU 0 (iperf3 -A).
      expect(pinned).toEqual(['0', '0']);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(r.interrupted).toBe(true);
      expect(r.receivedBps).toBe(r.sentBps);
      expect(r.receivedBps).toBeGreaterThan(1e8);
      expect(r.receivedBps).toBeLessThanOrEqual(1.05e9);
      const last = r.intervals.at(-1)!;
      expect(last.endSec).toBeLessThan(10);
      expect(r.intervals.length).toBeGreaterThanOrEqual(2);
    } finally {
      testbedDown(runsDir, state.name);
    }
  });

  it.skipIf(!hasIperf3)(
    "a client that dies when stopped (iperf3 3.12's SIGINT handler once aborted in malloc): the server's intervals",
    async () => {
      // A stand-in iperf3 first on PATH: the server and any other use are the real one; a client
      // runs the real one and, on SIGINT, dies as the crash did (glibc's words, no JSON).
      const real = execFileSync('sh', ['-c', 'command -v iperf3'], { encoding: 'utf8' }).trim();
      const bin = mkdtempSync(join(tmpdir(), 'xlane-fake-iperf3-'));
      writeFileSync(
        join(bin, 'iperf3'),
        [
          '#!/bin/bash',
          `case " $* " in *" -c "*) ;; *) exec ${real} "$@";; esac`,
          `${real} "$@" > /dev/null &`,
          'child=$!',
          `trap 'kill -KILL $child; echo "Fatal glibc error: malloc assertion failure in sysmalloc (stand-in)" >&2; exit 134' INT`,
          'wait $child',
        ].join('\n'),
        { mode: 0o755 },
      );
      const path = process.env.PATH;
      process.env.PATH = `${bin}:${path}`;
      const state = up('d');
      try {
        const stop = new AbortController();
        setTimeout(() => stop.abort(), 2_500);
        const r = await runCrossTraffic(state, {
          from: 'h1',
          to: 'h2',
          kind: 'tcp',
          seconds: 60,
          port: 5298,
          stop: stop.signal,
        });
        expect(r.clientDied).toMatch(/Fatal glibc error/);
        expect(r.interrupted).toBe(true);
        expect(r.receivedBps).toBe(r.sentBps);
        expect(r.receivedBps).toBeGreaterThan(1e8);
        expect(r.receivedBps).toBeLessThanOrEqual(1.05e9);
        expect(r.intervals.length).toBeGreaterThanOrEqual(2);
        expect(r.intervals[0]).toMatchObject({ startSec: 0, endSec: 1 });
      } finally {
        process.env.PATH = path;
        testbedDown(runsDir, state.name);
        rmSync(bin, { recursive: true, force: true });
      }
    },
  );

  it('down of a testbed whose state file is gone still removes its namespaces', () => {
    const state = up('s');
    rmSync(join(runsDir, state.name, 'testbed.json'));
    const res = testbedDown(runsDir, state.name);
    expect(res.hadState).toBe(false);
    expect(res.removed.sort()).toEqual(state.namespaces.slice().sort());
    expect(testbedNamespaces(state.name)).toEqual([]);
  });
});
