#!/usr/bin/env node
// The `xlane` binary: each sub-command lives in its own file under commands/ and only parses
// arguments, calls the library and prints. Errors with an XL_ERR_* code exit 1 with the code shown.
import { Command } from 'commander';
import { isXlaneError } from '../errors.js';
import { register as registerAgent } from './commands/agent.js';
import { register as registerBench } from './commands/bench.js';
import { register as registerController } from './commands/controller.js';
import { register as registerDemo } from './commands/demo.js';
import { register as registerLanes } from './commands/lanes.js';
import { register as registerReport } from './commands/report.js';
import { register as registerStatus } from './commands/status.js';
import { register as registerTestbed } from './commands/testbed.js';
import { register as registerTopology } from './commands/topology.js';
import { register as registerTune } from './commands/tune.js';

export function buildProgram(): Command {
  const program = new Command('xlane')
    .description('Express lanes for data-center coordination traffic, with guaranteed latency windows.')
    .version('0.1.0')
    .showHelpAfterError();
  registerDemo(program);
  registerController(program);
  registerAgent(program);
  registerLanes(program);
  registerStatus(program);
  registerTopology(program);
  registerTestbed(program);
  registerTune(program);
  registerBench(program);
  registerReport(program);
  return program;
}

export function reportError(err: unknown): never {
  if (isXlaneError(err)) {
    console.error(`xlane: ${err.code}: ${err.message}`);
  } else {
    console.error(`xlane: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  process.exit(1);
}

buildProgram().parseAsync(process.argv).catch(reportError);
