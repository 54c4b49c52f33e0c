// `up` and `down` as library calls (the CLI only parses and prints): plan → apply → state file, and
// state file (plus whatever namespaces of that name exist) → nothing left.
import type { TopologySpec } from '../topology/spec.js';
import { exitStatusFor, onStopSignals } from '../util/exit-signals.js';
import type { AgentOptions } from './agent-options.js';
import { startAgents, stopProcesses } from './agents.js';
import {
  applyPlan,
  applyPlanInterruptible,
  deleteNamespaces,
  type Interrupted,
  requireRoot,
  testbedNamespaces,
} from './apply.js';
import { type PlanOptions, planTestbed, type TestbedPlan } from './plan.js';
import { makeState, readState, removeState, runDirOf, type TestbedState, writeState } from './state.js';

export interface UpOptions extends PlanOptions {
  runsDir: string;
  topologyFile?: string;
  /** Test hook: change the plan before it is applied (e.g. inject a rate the kernel refuses). */
  mutatePlan?: (plan: TestbedPlan) => void;
  /** testbedUpInterruptible: called after a signal removed what was built, just before the exit. */
  onInterrupted?: (note: Interrupted) => void;
}

export interface UpResult {
  state: TestbedState;
  stateFile: string;
}

/** Plans and builds the testbed and records it (synchronous: see applyPlan). */
export function testbedUp(spec: TopologySpec, opts: UpOptions): UpResult {
  const plan = preparePlan(spec, opts);
  return record(plan, applyPlan(plan), opts);
}

/** testbedUp for `xlane testbed up`: SIGINT, SIGTERM or SIGHUP while building removes what was
 * built and exits (see applyPlanInterruptible). */
export async function testbedUpInterruptible(spec: TopologySpec, opts: UpOptions): Promise<UpResult> {
  const plan = preparePlan(spec, opts);
  return record(plan, await applyPlanInterruptible(plan, opts.onInterrupted), opts);
}

function preparePlan(spec: TopologySpec, opts: UpOptions): TestbedPlan {
  requireRoot();
  const plan = planTestbed(spec, opts);
  opts.mutatePlan?.(plan);
  return plan;
}

function record(plan: TestbedPlan, namespaces: string[], opts: UpOptions): UpResult {
  const state = makeState(plan, namespaces, opts.topologyFile);
  try {
    return { state, stateFile: writeState(opts.runsDir, state) };
  } catch (err) {
    // Without a state file nobody could find it again: a testbed that cannot be recorded is removed.
    deleteNamespaces(namespaces);
    throw err;
  }
}

export interface DownResult {
  name: string;
  removed: string[];
  /** PIDs of controller/agent processes that were signalled. */
  stopped: number[];
  hadState: boolean;
}

/** Removes the testbed's namespaces (recorded or merely present under its prefix) and its state. */
export function testbedDown(runsDir: string, name: string): DownResult {
  requireRoot();
  const state = readState(runsDir, name);
  const all = [...new Set([...(state?.namespaces ?? []), ...testbedNamespaces(name)])];
  // Processes inside a namespace keep it alive after `ip netns del`: stop them first.
  const stopped = stopProcesses(state?.agents?.processes ?? []);
  const removed = deleteNamespaces(all);
  removeState(runsDir, name);
  return { name, removed, stopped, hadState: state !== undefined };
}

/** `--with-agents`: starts controller and agents on a testbed that is up (planned with agents) and
 * records them; if they do not come up in sync, or the command is interrupted while waiting, the
 * whole testbed is taken down. Each process is recorded in the state file as soon as it starts, so
 * `down` finds it whatever happens next. */
export async function testbedStartAgents(
  runsDir: string,
  state: TestbedState,
  topologyFile: string,
  opts: AgentOptions,
  onInterrupted?: (note: Interrupted) => void,
): Promise<TestbedState> {
  // The agents run detached (no terminal signals reach them): Ctrl-C, SIGTERM or a closed terminal
  // here must remove them too.
  const offSignals = onStopSignals((sig) => {
    const down = testbedDown(runsDir, state.name);
    onInterrupted?.({ signal: sig, removed: down.removed, stopped: down.stopped.length });
    process.exit(exitStatusFor(sig));
  });
  try {
    const agents = await startAgents(state.plan, runDirOf(runsDir, state.name), topologyFile, opts, (sofar) =>
      writeState(runsDir, { ...state, agents: sofar }),
    );
    const next = { ...state, agents };
    writeState(runsDir, next);
    return next;
  } catch (err) {
    testbedDown(runsDir, state.name);
    throw err;
  } finally {
    offSignals();
  }
}
