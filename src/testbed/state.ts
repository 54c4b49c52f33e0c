// The run folder of a testbed: `runs/<name>/testbed.json` records what `up` built, so `status` and
// `down` (separate processes, maybe much later) know what to look at and remove, and so later tools
// (agents, cross traffic, reports) find the namespaces, addresses and the agents' `--peers` string.
import { mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XlaneError } from '../errors.js';
import type { AgentsInfo } from './agents.js';
import { peersString, type TestbedPlan } from './plan.js';

export const STATE_FILE = 'testbed.json';
export const DEFAULT_RUNS_DIR = 'runs';

export interface TestbedState {
  version: 1;
  name: string;
  createdAt: string;
  topologyFile?: string;
  /** Namespaces `up` created, in creation order. */
  namespaces: string[];
  /** `h1=10.77.0.1,…`: pass as `xlane agent --peers`. */
  peers: string;
  plan: TestbedPlan;
  /** `--with-agents`: the controller URL, its token and the processes `down` must stop. */
  agents?: AgentsInfo;
}

export function runDirOf(runsDir: string, name: string): string {
  return join(runsDir, name);
}

export function makeState(plan: TestbedPlan, namespaces: string[], topologyFile?: string): TestbedState {
  return {
    version: 1,
    name: plan.name,
    createdAt: new Date().toISOString(),
    ...(topologyFile ? { topologyFile } : {}),
    namespaces,
    peers: peersString(plan),
    plan,
  };
}

export function writeState(runsDir: string, state: TestbedState): string {
  const dir = runDirOf(runsDir, state.name);
  const file = join(dir, STATE_FILE);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`);
  } catch (err) {
    throw new XlaneError('XL_ERR_FILE', `${file}: cannot write: ${(err as Error).message}`, { file });
  }
  return file;
}

/** The state of testbed `name`, or undefined when there is no state file. */
export function readState(runsDir: string, name: string): TestbedState | undefined {
  const file = join(runDirOf(runsDir, name), STATE_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new XlaneError('XL_ERR_FILE', `${file}: cannot read: ${(err as Error).message}`, { file });
  }
  let state: TestbedState;
  try {
    state = JSON.parse(text) as TestbedState;
  } catch {
    throw new XlaneError('XL_ERR_BAD_JSON', `${file}: not valid JSON`, { file });
  }
  if (state?.version !== 1 || !Array.isArray(state.namespaces) || typeof state.plan !== 'object') {
    throw new XlaneError('XL_ERR_FILE', `${file}: not a testbed state file (version 1)`, { file });
  }
  return state;
}

/** Removes the state file, and the testbed's folder when nothing else is in it (a bench's
 * throwaway testbed leaves no empty folder behind; logs and databases keep theirs). */
export function removeState(runsDir: string, name: string): void {
  const dir = runDirOf(runsDir, name);
  rmSync(join(dir, STATE_FILE), { force: true });
  try {
    rmdirSync(dir);
  } catch {
    // not empty, or already gone
  }
}

/** Names of testbeds with a state file under runsDir. */
export function listStates(runsDir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(runsDir);
  } catch {
    return [];
  }
  return entries.filter((d) => {
    try {
      readFileSync(join(runsDir, d, STATE_FILE));
      return true;
    } catch {
      return false;
    }
  });
}

/** `--name` when given; otherwise the only testbed in runsDir (ambiguity is an error, not a guess). */
export function resolveName(runsDir: string, name: string | undefined): string {
  if (name) return name;
  const names = listStates(runsDir);
  if (names.length === 1) return names[0]!;
  throw new XlaneError(
    'XL_ERR_NOT_FOUND',
    names.length === 0
      ? `no testbed state under ${runsDir}/ (is a testbed up? pass --name or --runs-dir)`
      : `several testbeds under ${runsDir}/ (${names.join(', ')}): pass --name`,
  );
}
