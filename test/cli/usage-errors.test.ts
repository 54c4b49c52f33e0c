// A bad command line is refused like any other input: one `xlane: XL_ERR_VALIDATION: …` line that
// points at the command's help, never commander's code-less `error:` line and the whole help.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';

const packageVersion = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;

const REPO = fileURLToPath(new URL('../..', import.meta.url));

async function refusal(args: string[]): Promise<unknown> {
  try {
    await buildProgram().parseAsync(['node', 'xlane', ...args]);
  } catch (err) {
    return err;
  }
  throw new Error(`xlane ${args.join(' ')} was accepted`);
}

/** The real binary's source, as a process: exit status and both streams. */
function xlane(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO,
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('commander parse errors', () => {
  it.each([
    [
      'an invalid option value',
      ['topology', 'gen', 'leaf-spine', '--leaves', '2.5', '--hosts-per-leaf', '2', '--spines', '1'],
      "option '--leaves <n>' argument '2.5' is invalid. expected a whole number (see xlane topology gen leaf-spine --help)",
    ],
    [
      'a missing required option',
      ['agent'],
      "required option '--host <name>' not specified (see xlane agent --help)",
    ],
    [
      'an unknown option',
      ['lanes', 'list', '--bogus'],
      "unknown option '--bogus' (see xlane lanes list --help)",
    ],
    ['an unknown command', ['bogus'], "unknown command 'bogus' (see xlane --help)"],
    [
      'a missing argument',
      ['topology', 'check'],
      "missing required argument 'file' (see xlane topology check --help)",
    ],
  ])('%s is XL_ERR_VALIDATION naming the command', async (_, args, message) => {
    expect(await refusal(args)).toMatchObject({ code: 'XL_ERR_VALIDATION', message });
  });

  it('prints one line and exits 1, as a value refused by xlane itself does; help and version exit 0', () => {
    const bad = xlane([
      'topology',
      'gen',
      'leaf-spine',
      '--leaves',
      '2.5',
      '--hosts-per-leaf',
      '2',
      '--spines',
      '1',
    ]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe(
      "xlane: XL_ERR_VALIDATION: option '--leaves <n>' argument '2.5' is invalid. expected a whole number " +
        '(see xlane topology gen leaf-spine --help)\n',
    );
    const zero = xlane([
      'topology',
      'gen',
      'leaf-spine',
      '--leaves',
      '0',
      '--hosts-per-leaf',
      '2',
      '--spines',
      '1',
    ]);
    expect(zero.status).toBe(1);
    expect(zero.stderr).toMatch(/^xlane: XL_ERR_VALIDATION: /);

    const help = xlane(['topology', 'gen', 'leaf-spine', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: xlane topology gen leaf-spine/);
    const version = xlane(['--version']);
    expect(version).toEqual({ status: 0, stdout: `${packageVersion}\n`, stderr: '' });
  });
});
