// Cross traffic between testbed hosts: iperf3 (Debian package `iperf3`) server in the receiving
// host's namespace, client in the sender's, TCP bulk or paced UDP, always bounded in time. The
// result is iperf3's own JSON summary, reduced to what the interference runs need.
import { execFile, spawn } from 'node:child_process';
import { XlaneError } from '../errors.js';
import type { TestbedState } from './state.js';

export interface CrossTrafficOptions {
  from: string;
  to: string;
  /** TCP bulk (as fast as the path allows) or UDP paced at `rateBps`. */
  kind: 'tcp' | 'udp';
  rateBps?: number;
  seconds: number;
  /** iperf3 port on the receiver (several flows at once need distinct ports). */
  port?: number;
  /** Parallel TCP streams (iperf3 -P). */
  streams?: number;
  /** Both iperf3 processes pinned to this CPU (iperf3 -A): the flow's softirq work then runs there
   * too, as cross traffic steered away from a core dedicated to express lanes. */
  cpu?: number;
  /** Reporting interval (iperf3 -i, seconds; default 1). */
  intervalSec?: number;
  /** Kills client and server at once (e.g. the caller is interrupted and tears the testbed down). */
  signal?: AbortSignal;
  /** TCP only: ends the flow before `seconds` and keeps its figures. The client is interrupted
   * (SIGINT) and reports what it measured so far; see CrossTrafficResult.interrupted. */
  stop?: AbortSignal;
}

export interface CrossTrafficResult {
  from: string;
  to: string;
  kind: 'tcp' | 'udp';
  seconds: number;
  /** Goodput measured at the receiver. */
  receivedBps: number;
  sentBps: number;
  /** TCP: retransmitted segments; UDP: datagrams lost. */
  retransmits?: number;
  lostPackets?: number;
  /** iperf3's per-interval rate (default 1 s intervals, sender side; the last one shorter when the
   * flow was stopped): start and end (s since the flow started) and bit/s. */
  intervals: { startSec: number; endSec: number; bps: number }[];
  /** Ended early by `stop`. iperf3 then has no receiver summary, so receivedBps is the sender's
   * rate: for TCP the two differ only by the bytes still in flight when it stopped. */
  interrupted?: true;
  /** The client died instead of reporting after `stop` interrupted it (iperf3 3.12's SIGINT
   * handler is not async-signal-safe: once in a few dozen stops it aborted inside malloc, "Fatal
   * glibc error"), so the figures are the server's own per-interval lines (receiver side, three
   * significant digits) and sentBps equals receivedBps. The value is what the client printed. */
  clientDied?: string;
}

const MAX_SECONDS = 3600;

export function validateTraffic(state: TestbedState, o: CrossTrafficOptions): void {
  const hosts = new Set(state.plan.addresses.map((a) => a.host));
  const bad: string[] = [];
  for (const h of [o.from, o.to])
    if (!hosts.has(h)) bad.push(`unknown host ${h} (hosts: ${[...hosts].join(', ')})`);
  if (o.from === o.to) bad.push('--from and --to must be different hosts');
  if (!(o.seconds > 0 && o.seconds <= MAX_SECONDS)) bad.push(`seconds must be in (0, ${MAX_SECONDS}]`);
  if (o.kind === 'udp' && !(o.rateBps !== undefined && o.rateBps > 0)) bad.push('paced UDP needs a rate > 0');
  if (o.streams !== undefined && !(Number.isInteger(o.streams) && o.streams >= 1 && o.streams <= 64)) {
    bad.push('streams must be 1..64');
  }
  // A paced UDP flow's goodput is its rate less its losses, which only the receiver's summary has.
  if (o.stop && o.kind === 'udp') bad.push('only a TCP flow can be stopped early');
  if (o.cpu !== undefined && !(Number.isInteger(o.cpu) && o.cpu >= 0 && o.cpu < 4096))
    bad.push('cpu must be a CPU number 0..4095');
  if (bad.length > 0) throw new XlaneError('XL_ERR_VALIDATION', bad.join('; '));
}

/** Runs one flow to completion (server and client are killed if they outlive the bound). */
export async function runCrossTraffic(
  state: TestbedState,
  o: CrossTrafficOptions,
): Promise<CrossTrafficResult> {
  validateTraffic(state, o);
  const src = state.plan.addresses.find((a) => a.host === o.from)!;
  const dst = state.plan.addresses.find((a) => a.host === o.to)!;
  const port = String(o.port ?? 5201);
  const boundMs = (o.seconds + 10) * 1000;
  const affinity = o.cpu !== undefined ? ['-A', String(o.cpu)] : [];
  // -1: the server serves exactly one test and exits, so nothing is left running.
  const server = spawn(
    'ip',
    [
      'netns',
      'exec',
      dst.ns,
      'iperf3',
      '-s',
      '-1',
      '--forceflush',
      '-B',
      dst.address,
      '-p',
      port,
      ...affinity,
      // The client's interval too: the server's lines stand in for its report if it dies.
      ...(o.intervalSec !== undefined ? ['-i', String(o.intervalSec)] : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  server.once('error', () => {});
  // Kept for the case the client dies after a stop (CrossTrafficResult.clientDied); bounded.
  let serverText = '';
  server.stdout?.on('data', (d) => {
    if (serverText.length < 1 << 22) serverText += d;
  });
  o.signal?.addEventListener('abort', () => killServer(), { once: true });
  const killServer = () => {
    if (server.exitCode === null && server.pid !== undefined) {
      try {
        process.kill(server.pid, 'SIGKILL');
      } catch {}
    }
  };
  try {
    await waitListening(server);
    const args = ['-c', dst.address, '-p', port, '-t', String(o.seconds), '-J', ...affinity];
    if (o.intervalSec !== undefined) args.push('-i', String(o.intervalSec));
    if (o.kind === 'udp') args.push('-u', '-b', String(Math.round(o.rateBps!)));
    if (o.streams) args.push('-P', String(o.streams));
    const out = await new Promise<string | { died: string }>((resolve, reject) => {
      const client = execFile(
        'ip',
        ['netns', 'exec', src.ns, 'iperf3', ...args],
        {
          timeout: boundMs,
          killSignal: 'SIGKILL',
          maxBuffer: 32 << 20,
          ...(o.signal ? { signal: o.signal } : {}),
        },
        (err, stdout, stderr) => {
          // iperf3 -J reports its own errors inside the JSON, with a non-zero exit.
          if (err && !String(stdout).trim().startsWith('{')) {
            if (o.stop?.aborted) resolve({ died: String(stderr).trim() || err.message });
            else
              reject(
                new XlaneError(
                  'XL_ERR_KERNEL',
                  `iperf3 ${o.from}→${o.to}: ${String(stderr).trim() || err.message}`,
                ),
              );
          } else resolve(String(stdout));
        },
      );
      // `ip netns exec` execs iperf3 in place: the signal reaches iperf3 itself.
      const interrupt = () => client.kill('SIGINT');
      if (o.stop?.aborted) interrupt();
      else o.stop?.addEventListener('abort', interrupt, { once: true });
    });
    const head = { from: o.from, to: o.to, kind: o.kind, seconds: o.seconds };
    if (typeof out === 'string') return { ...head, ...parseIperfJson(out) };
    // The server prints what it received so far once it sees the connection go.
    await new Promise<void>((r) => {
      if (server.exitCode !== null) return r();
      const t = setTimeout(r, 2_000);
      server.once('exit', () => {
        clearTimeout(t);
        r();
      });
    });
    const seen = parseIperfServerText(serverText);
    if (!seen)
      throw new XlaneError(
        'XL_ERR_KERNEL',
        `iperf3 ${o.from}→${o.to}: ${out.died} (and its server reported nothing)`,
      );
    return { ...head, ...seen, sentBps: seen.receivedBps, interrupted: true, clientDied: out.died };
  } finally {
    killServer();
  }
}

/** Resolves once the server prints its banner ("Server listening"); rejects if it dies first. */
function waitListening(server: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new XlaneError('XL_ERR_TIMEOUT', 'iperf3 server did not start')),
      10_000,
    );
    server.stdout?.on('data', (d) => {
      out += d;
      if (out.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    server.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new XlaneError('XL_ERR_KERNEL', `iperf3 server exited (${code}) before listening: ${out.trim()}`),
      );
    });
    server.once('error', (err) => {
      clearTimeout(timer);
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(new XlaneError('XL_ERR_KERNEL', missing ? 'ip or iperf3 not installed' : err.message));
    });
  });
}

/** iperf3 -J client output → goodput and losses. */
export function parseIperfJson(text: string): Omit<CrossTrafficResult, 'from' | 'to' | 'kind' | 'seconds'> {
  let j: {
    error?: string;
    intervals?: { sum?: { start?: number; end?: number; bits_per_second?: number } }[];
    end?: {
      sum_sent?: { bits_per_second?: number; retransmits?: number };
      sum_received?: { bits_per_second?: number };
      sum?: { bits_per_second?: number; lost_packets?: number };
    };
  };
  try {
    j = JSON.parse(text);
  } catch {
    throw new XlaneError('XL_ERR_KERNEL', 'iperf3 -J printed something that is not JSON', {
      stdout: text.slice(0, 200),
    });
  }
  // What iperf3 says when SIGINT ends a client early (CrossTrafficOptions.stop).
  const interrupted = j.error?.startsWith('interrupt') === true;
  if (j.error && !interrupted) throw new XlaneError('XL_ERR_KERNEL', `iperf3: ${j.error}`);
  const end = j.end ?? {};
  const sent = end.sum_sent?.bits_per_second;
  const received = interrupted ? sent : (end.sum_received?.bits_per_second ?? end.sum?.bits_per_second);
  if (received === undefined || sent === undefined) {
    throw new XlaneError('XL_ERR_KERNEL', 'iperf3 -J output has no end.sum_sent / sum_received');
  }
  const intervals = (j.intervals ?? []).flatMap((i) =>
    i.sum?.start !== undefined && i.sum.end !== undefined && i.sum.bits_per_second !== undefined
      ? [{ startSec: i.sum.start, endSec: i.sum.end, bps: i.sum.bits_per_second }]
      : [],
  );
  return {
    receivedBps: received,
    sentBps: sent,
    intervals,
    ...(end.sum_sent?.retransmits !== undefined ? { retransmits: end.sum_sent.retransmits } : {}),
    ...(end.sum?.lost_packets !== undefined ? { lostPackets: end.sum.lost_packets } : {}),
    ...(interrupted ? { interrupted: true as const } : {}),
  };
}

const UNIT: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9 };

/** The receiver's per-interval lines of `iperf3 -s --forceflush` (text, not JSON: the server's
 * JSON comes only at the end, which a dead client's server may not reach). With parallel streams
 * the [SUM] lines, else the one stream's; the summary lines ("receiver") are left out. */
export function parseIperfServerText(
  text: string,
): { receivedBps: number; intervals: CrossTrafficResult['intervals'] } | undefined {
  const rows: { id: string; startSec: number; endSec: number; bps: number }[] = [];
  const line =
    /^\[\s*(SUM|\d+)\]\s+(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)\s+sec\s+\S+\s+\S*Bytes\s+(\d+(?:\.\d+)?)\s+([KMG]?)bits\/sec\s*$/;
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (m)
      rows.push({
        id: m[1]!,
        startSec: Number(m[2]),
        endSec: Number(m[3]),
        bps: Number(m[4]) * UNIT[m[5]!]!,
      });
  }
  const sums = rows.filter((r) => r.id === 'SUM');
  const picked = (sums.length > 0 ? sums : rows).filter((r) => r.endSec > r.startSec);
  if (picked.length === 0) return undefined;
  const intervals = picked.map(({ startSec, endSec, bps }) => ({ startSec, endSec, bps }));
  const seconds = intervals.reduce((a, i) => a + (i.endSec - i.startSec), 0);
  const bits = intervals.reduce((a, i) => a + i.bps * (i.endSec - i.startSec), 0);
  return { receivedBps: bits / seconds, intervals };
}
