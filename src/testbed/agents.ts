// `--with-agents`: the controller and one agent per host as real, detached processes inside the
// testbed's namespaces, logging to the run folder. They must outlive `xlane testbed up`, so they
// are recorded by PID (each leads its own process group) and `down` kills them by that PID.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineKind } from '../agent/engine-factory.js';
import { XlaneError } from '../errors.js';
import { type AgentOptions, agentArgv } from './agent-options.js';
import { peersString, type TestbedPlan } from './plan.js';

export interface TestbedProcess {
  role: 'controller' | 'agent';
  host?: string;
  pid: number;
  log: string;
}

export interface AgentsInfo {
  controllerUrl: string;
  token: string;
  /** The agents' lane engine (absent in state files written before it was recorded). */
  engine?: EngineKind;
  processes: TestbedProcess[];
}

const CONTROLLER_PORT = 7300;
const READY_TIMEOUT_MS = 30_000;

/** The `xlane` entry point next to this module (src/…/main.ts under tsx, dist/…/main.js built). */
function cliEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`../cli/main${self.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
}

function start(ns: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a');
  try {
    // process.execArgv carries `--import tsx` when running from source.
    const child = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, ...process.execArgv, cliEntry(), ...args],
      {
        detached: true,
        stdio: ['ignore', fd, fd],
      },
    );
    if (child.pid === undefined) throw new XlaneError('XL_ERR_KERNEL', `cannot start ${args[0]} in ${ns}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Starts controller and agents and waits until every agent is in sync; kills them all on failure. */
export async function startAgents(
  plan: TestbedPlan,
  runDir: string,
  topologyFile: string,
  opts: AgentOptions,
  /** Called after each process starts, so a caller can record it before the next can fail. */
  onStarted?: (sofar: AgentsInfo) => void,
): Promise<AgentsInfo> {
  const c = plan.controller;
  if (!c || !plan.agents)
    throw new XlaneError('XL_ERR_INTERNAL', 'the plan has no controller (plan with agents)');
  const dir = resolve(runDir);
  const token = randomBytes(16).toString('hex');
  const url = `http://${c.address}:${CONTROLLER_PORT}`;
  const processes: TestbedProcess[] = [];
  const record = (p: TestbedProcess) => {
    processes.push(p);
    onStarted?.({ controllerUrl: url, token, engine: opts.engine, processes: [...processes] });
  };
  try {
    const ctlLog = join(dir, 'controller.log');
    record({
      role: 'controller',
      log: ctlLog,
      pid: start(
        c.ns,
        [
          'controller',
          '--topology',
          resolve(topologyFile),
          '--db',
          join(dir, 'xlane.db'),
          '--listen',
          `${c.address}:${CONTROLLER_PORT}`,
          '--token',
          token,
        ],
        ctlLog,
      ),
    });
    await waitForLine(ctlLog, 'controller listening', processes[0]!.pid);
    const ctx = {
      ...opts,
      controllerUrl: url,
      token,
      runDir: dir,
      peers: peersString(plan),
      hostQos: plan.agents.hostQos,
    };
    for (const a of plan.addresses) {
      const log = join(dir, `agent-${a.host}.log`);
      const pid = start(a.ns, agentArgv(a, ctx), log);
      record({ role: 'agent', host: a.host, pid, log });
    }
    for (const p of processes.slice(1)) await waitForLine(p.log, 'in sync with the controller', p.pid);
    return { controllerUrl: url, token, engine: opts.engine, processes };
  } catch (err) {
    stopProcesses(processes);
    throw err;
  }
}

async function waitForLine(file: string, needle: string, pid: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {}
    if (text.includes(needle)) return;
    const tail = text.trim().split('\n').slice(-3).join(' | ');
    if (!alive(pid))
      throw new XlaneError('XL_ERR_KERNEL', `process ${pid} exited before "${needle}" (${file}): ${tail}`);
    if (Date.now() > deadline) {
      throw new XlaneError(
        'XL_ERR_TIMEOUT',
        `no "${needle}" in ${file} within ${READY_TIMEOUT_MS / 1000} s: ${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped by its parent) is gone for our purposes.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A recorded PID may have been reused since (e.g. after a reboot): ours still names its run folder. */
function isOurs(p: TestbedProcess): boolean {
  try {
    return readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes(dirname(p.log));
  } catch {
    return false;
  }
}

/** SIGTERM to each recorded process group (by PID), SIGKILL for whatever outlives a grace period. */
export function stopProcesses(processes: readonly TestbedProcess[]): number[] {
  const signalled: number[] = [];
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      // Negative PID: the group this process leads (ip netns exec → node).
      process.kill(-pid, sig);
      return true;
    } catch {
      return false;
    }
  };
  for (const p of processes) if (isOurs(p) && signal(p.pid, 'SIGTERM')) signalled.push(p.pid);
  const deadline = Date.now() + 3000;
  while (signalled.some(alive) && Date.now() < deadline)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  for (const pid of signalled) if (alive(pid)) signal(pid, 'SIGKILL');
  return signalled;
}
