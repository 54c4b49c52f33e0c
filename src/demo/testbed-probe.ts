// Can this machine run the proving ground? Root (namespaces, tc), the `ip` and `tc` tools and
// iperf3 for the cross traffic. Each missing piece is named, so the fallback can say what it
// cannot show and how to get it.
import { execFileSync } from 'node:child_process';

export interface TestbedProbe {
  ok: boolean;
  missing: string[];
}

function hasTool(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

export function probeTestbed(): TestbedProbe {
  const missing: string[] = [];
  if (process.platform !== 'linux') missing.push('Linux (network namespaces)');
  if (process.getuid?.() !== 0) missing.push('root (CAP_SYS_ADMIN and CAP_NET_ADMIN for namespaces and tc)');
  if (!hasTool('ip', ['netns', 'list'])) missing.push('iproute2 `ip` with netns support');
  if (!hasTool('tc', ['-V'])) missing.push('iproute2 `tc`');
  if (!hasTool('iperf3', ['--version'])) missing.push('iperf3 (Debian package iperf3)');
  return { ok: missing.length === 0, missing };
}
