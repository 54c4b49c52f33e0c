// The `xlane` command tree, apart from main.ts (which parses process.argv on import) so that tests
// can build and parse it. Every refusal, commander's own parse errors included, carries an XL_ERR_*
// code: scripts match on the code whichever layer refused.
import { Command, type CommanderError } from 'commander';
import { PACKAGE_VERSION } from '../control-protocol.js';
import { isXlaneError, XlaneError } from '../errors.js';
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
import { refuseBlankValues } from './option-values.js';

export function buildProgram(): Command {
  const program = new Command('xlane')
    .description('Express lanes for data-center coordination traffic, with guaranteed latency windows.')
    .version(PACKAGE_VERSION);
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
  refuseBlankValues(program);
  usageErrorsAsXlane(program);
  return program;
}

/** Commander's way out once it has printed help or the version; anything else it raises is a
 * refusal of the command line. */
const PRINTED = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** A bad command line (unknown option, invalid value, missing argument, ...) is refused like any
 * other input: one `XL_ERR_VALIDATION` line pointing at the command's help, instead of commander's
 * code-less `error:` line followed by the whole help. Applied after registration: commander copies
 * these settings only into sub-commands created later. */
function usageErrorsAsXlane(cmd: Command): void {
  cmd.configureOutput({ outputError: () => {} });
  cmd.exitOverride((err: CommanderError) => {
    if (PRINTED.has(err.code)) throw err;
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `${err.message.replace(/^error: /, '')} (see ${commandPath(cmd)} --help)`,
      { commander: err.code },
    );
  });
  for (const sub of cmd.commands) usageErrorsAsXlane(sub);
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** What the user can do about an error of this code, when the CLI knows. */
const HINTS: Partial<Record<string, string>> = {
  XL_ERR_UNAUTHORIZED:
    'pass the controller token with --token or --token-file, or set XLANE_TOKEN or XLANE_TOKEN_FILE',
};

/** The one line an error is reported with. */
export function formatError(err: unknown): string {
  if (!isXlaneError(err)) return `xlane: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  const hint = HINTS[err.code];
  return `xlane: ${err.code}: ${err.message}${hint ? ` (${hint})` : ''}`;
}
