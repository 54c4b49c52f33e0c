// Walks a TestbedPlan against the kernel with `ip -n` and `tc -n`, so nothing is ever created in
// the root namespace. All-or-nothing: on any failure — or a signal or exit while building — every
// namespace created so far is deleted (which takes the veths, bridges and qdiscs with it).
// Synchronous on purpose: teardown must also run from an 'exit' handler.
import { execFileSync } from 'node:child_process';
import { XlaneError } from '../errors.js';
import { listNamespaces } from './netns.js';
import { BRIDGE, SUBNET_BITS, TESTBED_PREFIX, type TestbedPlan, tcCommandsFor } from './plan.js';

export function requireRoot(): void {
  if (process.getuid?.() !== 0) {
    throw new XlaneError(
      'XL_ERR_NOT_ROOT',
      'the testbed builds network namespaces: run as root (CAP_SYS_ADMIN and CAP_NET_ADMIN)',
    );
  }
}

/** Builds the plan; returns the namespaces created. Throws XL_ERR_KERNEL after removing them all. */
export function applyPlan(plan: TestbedPlan): string[] {
  requireRoot();
  const existing = testbedNamespaces(plan.name);
  if (existing.length > 0) {
    throw new XlaneError(
      'XL_ERR_DUPLICATE',
      `testbed ${plan.name} is already up (${existing.length} namespaces); run \`xlane testbed down --name ${plan.name}\``,
      { namespaces: existing },
    );
  }
  const created: string[] = [];
  const undo = () => deleteNamespaces(created);
  // A Ctrl-C between two `ip` calls must not leave half a testbed: exit → undo.
  const onSignal = () => process.exit(130);
  process.on('exit', undo);
  const hadSigint = process.listenerCount('SIGINT') > 0;
  if (!hadSigint) process.once('SIGINT', onSignal);
  try {
    for (const n of plan.namespaces) {
      run('ip', ['netns', 'add', n.ns]);
      created.push(n.ns);
      run('ip', ['-n', n.ns, 'link', 'set', 'lo', 'up']);
    }
    for (const ns of plan.bridges) {
      // No STP (plan.ts refuses loops) and no forwarding delay: ports forward as soon as they are up.
      run('ip', ['-n', ns, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      run('ip', ['-n', ns, 'link', 'set', BRIDGE, 'up']);
    }
    for (const v of plan.veths) {
      // Created inside a's namespace with the peer placed straight into b's: never in the root ns.
      run('ip', [
        '-n',
        v.a.ns,
        'link',
        'add',
        v.a.ifname,
        'type',
        'veth',
        'peer',
        'name',
        v.b.ifname,
        'netns',
        v.b.ns,
      ]);
      for (const e of v.bridged) run('ip', ['-n', e.ns, 'link', 'set', e.ifname, 'master', BRIDGE]);
      for (const e of [v.a, v.b]) run('ip', ['-n', e.ns, 'link', 'set', e.ifname, 'up']);
    }
    for (const a of plan.addresses) {
      run('ip', ['-n', a.ns, 'addr', 'add', `${a.address}/${SUBNET_BITS}`, 'dev', a.ifname]);
    }
    const c = plan.controller;
    if (c) run('ip', ['-n', c.ns, 'addr', 'add', `${c.address}/${SUBNET_BITS}`, 'dev', c.ifname]);
    for (const p of plan.ports) {
      for (const cmd of tcCommandsFor(p)) run('tc', ['-n', p.ns, ...cmd]);
    }
  } catch (err) {
    undo();
    throw err;
  } finally {
    process.removeListener('exit', undo);
    if (!hadSigint) process.removeListener('SIGINT', onSignal);
  }
  return created;
}

/** Namespaces of testbed `name` present now. */
export function testbedNamespaces(name: string): string[] {
  const prefix = `${TESTBED_PREFIX}-${name}-`;
  return listNamespaces().filter((n) => n.startsWith(prefix));
}

/** Deletes the given namespaces (missing ones are fine); returns those that were present. */
export function deleteNamespaces(namespaces: readonly string[]): string[] {
  const present = new Set(listNamespaces());
  const removed: string[] = [];
  for (const ns of [...namespaces].reverse()) {
    if (!present.has(ns)) continue;
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      removed.push(ns);
    } catch {
      // Raced with another remover: gone either way.
    }
  }
  return removed;
}

/** Runs a command in a namespace synchronously; returns stdout, throws XL_ERR_KERNEL. */
export function run(bin: 'ip' | 'tc', args: string[]): string {
  try {
    return execFileSync(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 10_000 });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new XlaneError('XL_ERR_KERNEL', `${bin} ${args.join(' ')}: ${stderr || (err as Error).message}`, {
      command: [bin, ...args],
    });
  }
}
