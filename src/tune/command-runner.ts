// External tools (ethtool, ps, systemctl) behind one interface, so probes and fixes can run against
// canned outputs. The real runner never goes through a shell: arguments are passed as an array.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CommandRunner {
  run(argv: readonly string[]): CommandResult;
}

export class RealCommandRunner implements CommandRunner {
  run(argv: readonly string[]): CommandResult {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
    if (r.error) return { code: 127, stdout: '', stderr: r.error.message };
    return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  }
}

/**
 * The fake machine's tools: `commands.json` in a fixture tree maps a command line ("ethtool -c eth0")
 * to its output. Commands that are not listed are treated as changes (ethtool -C, systemctl stop):
 * they succeed and are recorded, so tests can see what apply/revert would have run.
 */
export class FixtureCommandRunner implements CommandRunner {
  readonly ran: string[] = [];
  private readonly table: Record<string, Partial<CommandResult>>;

  constructor(table: Record<string, Partial<CommandResult>>) {
    this.table = table;
  }

  static fromRoot(root: string): FixtureCommandRunner {
    let table: Record<string, Partial<CommandResult>> = {};
    try {
      table = JSON.parse(readFileSync(join(root, 'commands.json'), 'utf8'));
    } catch {
      // A fixture without commands.json is a machine without those tools: every probe says "skip".
      table = {};
    }
    return new FixtureCommandRunner(table);
  }

  run(argv: readonly string[]): CommandResult {
    const line = argv.join(' ');
    this.ran.push(line);
    const hit = this.table[line];
    if (hit) return { code: hit.code ?? 0, stdout: hit.stdout ?? '', stderr: hit.stderr ?? '' };
    const readOnly = /^(ethtool -[ck]|ps )/.test(line);
    return readOnly
      ? { code: 127, stdout: '', stderr: `${argv[0]}: not available` }
      : { code: 0, stdout: '', stderr: '' };
  }
}

export function runnerForRoot(root: string): CommandRunner {
  return root === '/' ? new RealCommandRunner() : FixtureCommandRunner.fromRoot(root);
}
