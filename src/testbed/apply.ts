// Walks a TestbedPlan against the kernel with `ip -n` and `tc -n`, so nothing is ever created in
// the root namespace. All-or-nothing: on any failure every namespace created so far is deleted
// (which takes the veths, bridges and qdiscs with it). Teardown is synchronous on purpose: it must
// also run from an 'exit' handler.
import { execFile, execFileSync } from 'node:child_process';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import { XlaneError } from '../errors.js';
import { exitStatusFor, onStopSignals, type StopSignal } from '../util/exit-signals.js';
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

/** One `ip`/`tc` command of a build; `adds` names the namespace it creates. */
export interface BuildStep {
  bin: 'ip' | 'tc';
  args: string[];
  adds?: string;
}

/** Every command that builds the plan, in order. */
export function buildSteps(plan: TestbedPlan): BuildStep[] {
  const steps: BuildStep[] = [];
  const ip = (...args: string[]) => {
    steps.push({ bin: 'ip', args });
  };
  for (const n of plan.namespaces) {
    steps.push({ bin: 'ip', args: ['netns', 'add', n.ns], adds: n.ns });
    ip('-n', n.ns, 'link', 'set', 'lo', 'up');
  }
  for (const ns of plan.bridges) {
    // No STP (plan.ts refuses loops) and no forwarding delay: ports forward as soon as they are up.
    ip('-n', ns, 'link', 'add', BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    ip('-n', ns, 'link', 'set', BRIDGE, 'up');
  }
  for (const v of plan.veths) {
    // Created inside a's namespace with the peer placed straight into b's: never in the root ns.
    ip('-n', v.a.ns, 'link', 'add', v.a.ifname, 'type', 'veth', 'peer', 'name', v.b.ifname, 'netns', v.b.ns);
    for (const e of v.bridged) ip('-n', e.ns, 'link', 'set', e.ifname, 'master', BRIDGE);
    for (const e of [v.a, v.b]) ip('-n', e.ns, 'link', 'set', e.ifname, 'up');
  }
  for (const a of plan.addresses)
    ip('-n', a.ns, 'addr', 'add', `${a.address}/${SUBNET_BITS}`, 'dev', a.ifname);
  const c = plan.controller;
  if (c) ip('-n', c.ns, 'addr', 'add', `${c.address}/${SUBNET_BITS}`, 'dev', c.ifname);
  for (const p of plan.ports) {
    for (const cmd of tcCommandsFor(p)) steps.push({ bin: 'tc', args: ['-n', p.ns, ...cmd] });
  }
  return steps;
}

function refuseIfUp(plan: TestbedPlan): void {
  const existing = testbedNamespaces(plan.name);
  if (existing.length > 0) {
    throw new XlaneError(
      'XL_ERR_DUPLICATE',
      `testbed ${plan.name} is already up (${existing.length} namespaces); run \`xlane testbed down --name ${plan.name}\``,
      { namespaces: existing },
    );
  }
}

/** Builds the plan; returns the namespaces created. Throws XL_ERR_KERNEL after removing them all.
 * Synchronous, for callers that cannot await (the benches). No signal can interrupt it — Node runs
 * signal listeners only when the event loop turns — so one that arrives meanwhile reaches the
 * caller's own listeners (or kills the process) once it returns: use applyPlanInterruptible where
 * a signal must stop the build. */
export function applyPlan(plan: TestbedPlan): string[] {
  requireRoot();
  refuseIfUp(plan);
  const created: string[] = [];
  try {
    for (const s of buildSteps(plan)) {
      run(s.bin, s.args);
      if (s.adds) created.push(s.adds);
    }
  } catch (err) {
    deleteNamespaces(created);
    throw err;
  }
  return created;
}

/** What an interrupted build removed before exiting: the caller's last word to the user. */
export interface Interrupted {
  signal: StopSignal;
  /** Namespaces removed. */
  removed: string[];
  /** Controller and agent processes stopped (testbedStartAgents only). */
  stopped?: number;
}

/** applyPlan for `xlane testbed up`, which may be stopped while it builds: each step runs
 * asynchronously so the event loop turns between steps, and SIGINT, SIGTERM or SIGHUP — or an
 * exit — removes what was built; a signal then exits with 128 + its number. The handlers are
 * removed before it returns or throws, so none stays in a process that runs on. */
export async function applyPlanInterruptible(
  plan: TestbedPlan,
  onInterrupted?: (note: Interrupted) => void,
): Promise<string[]> {
  requireRoot();
  refuseIfUp(plan);
  const created: string[] = [];
  // Everything undo() removed, for the message: a failed step has already undone it once.
  const removed: string[] = [];
  const undo = () => removed.push(...deleteNamespaces(created.splice(0)));
  let caught: StopSignal | undefined;
  // Only noted here: the step in flight finishes first, so a namespace it is adding is recorded
  // (and removed) rather than created after this process has gone.
  const offSignals = onStopSignals((sig) => {
    caught ??= sig;
  });
  const stopIfCaught = () => {
    if (caught === undefined) return;
    undo();
    onInterrupted?.({ signal: caught, removed });
    process.exit(exitStatusFor(caught));
  };
  process.on('exit', undo);
  try {
    for (const s of buildSteps(plan)) {
      await runAsync(s.bin, s.args);
      if (s.adds) created.push(s.adds);
      stopIfCaught();
    }
    // One more turn of the loop: a signal that came with the last step's completion is dispatched
    // now, instead of being dropped with its listener.
    await nextTurn();
    stopIfCaught();
  } catch (err) {
    undo();
    // Ctrl-C reaches the `ip` in flight too, which then fails: exit as interrupted, not as failed.
    await nextTurn();
    stopIfCaught();
    throw err;
  } finally {
    process.removeListener('exit', undo);
    offSignals();
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
  if (namespaces.length === 0) return [];
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
    throw kernelError(bin, args, err);
  }
}

const execFileAsync = promisify(execFile);

/** run(), without blocking the event loop. */
export async function runAsync(bin: 'ip' | 'tc', args: string[]): Promise<string> {
  try {
    return (await execFileAsync(bin, args, { encoding: 'utf8', timeout: 10_000 })).stdout;
  } catch (err) {
    throw kernelError(bin, args, err);
  }
}

function kernelError(bin: string, args: string[], err: unknown): XlaneError {
  const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
  return new XlaneError('XL_ERR_KERNEL', `${bin} ${args.join(' ')}: ${stderr || (err as Error).message}`, {
    command: [bin, ...args],
  });
}
