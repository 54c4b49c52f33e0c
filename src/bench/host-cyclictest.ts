// cyclictest (rt-tests) as the measure of how late the lane core wakes a sleeping RT thread.
import { spawn } from 'node:child_process';
import { XlaneError } from '../errors.js';

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

/**
 * Percentiles from cyclictest's `-h` histogram (1 µs buckets). Samples beyond the histogram
 * ("Histogram Overflows") are counted at the reported maximum, which is where they are known to be at most.
 */
export function parseCyclictestHistogram(text: string): LatencySummary {
  const buckets: [number, number][] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(\d+)\s*$/.exec(line);
    if (m && Number(m[2]) > 0) buckets.push([Number(m[1]), Number(m[2])]);
  }
  const max = Number(/^# Max Latencies:\s*(\d+)/m.exec(text)?.[1] ?? Number.NaN);
  const overflows = Number(/^# Histogram Overflows:\s*(\d+)/m.exec(text)?.[1] ?? 0);
  if (overflows > 0) buckets.push([max, overflows]);
  const total = buckets.reduce((s, [, n]) => s + n, 0);
  if (total === 0 || Number.isNaN(max))
    throw new XlaneError('XL_ERR_INTERNAL', 'cyclictest printed no histogram (was it run with -h?)');
  const at = (p: number): number => {
    const rank = Math.ceil((p / 100) * total);
    let seen = 0;
    for (const [us, n] of buckets) {
      seen += n;
      if (seen >= rank) return us;
    }
    return max;
  };
  return { p50: at(50), p99: at(99), max };
}

export function cyclictestArgs(core: number, seconds: number): string[] {
  return [
    '-m',
    '-p',
    '90',
    '-i',
    '100',
    '-h',
    '2000',
    '-q',
    '-D',
    String(seconds),
    '-a',
    String(core),
    '-t',
    '1',
  ];
}

export async function runCyclictest(core: number, seconds: number): Promise<LatencySummary> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn('cyclictest', cyclictestArgs(core, seconds), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (e) =>
      reject(
        new XlaneError('XL_ERR_NOT_FOUND', `cannot run cyclictest (apt-get install rt-tests): ${e.message}`),
      ),
    );
    child.on('close', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new XlaneError('XL_ERR_INTERNAL', `cyclictest exited ${code}: ${stderr.trim()}`)),
    );
  });
  return parseCyclictestHistogram(out);
}
