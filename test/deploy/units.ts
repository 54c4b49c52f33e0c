// Reads the shipped systemd units and env examples the way systemd does, far enough for the deploy
// tests: sections and keys, Environment=/EnvironmentFile= values, and an Exec line turned into the
// argv systemd would run (specifiers, then ${VAR} as one word and $VAR split at whitespace).
// Anything it does not understand throws, so a unit that outgrows it fails the tests instead of
// being checked by half.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/program.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const DEPLOY_DIR = join(REPO, 'deploy/systemd');
/** Where the units expect the CLI: `npm install -g --prefix /usr/local` (docs/deploy.md). */
export const XLANE_BIN = '/usr/local/bin/xlane';

export interface Unit {
  name: string;
  path: string;
  text: string;
  /** section → [key, value] in file order (a key may repeat). */
  sections: Map<string, [string, string][]>;
}

export function unitNames(): string[] {
  return readdirSync(DEPLOY_DIR)
    .filter((f) => f.endsWith('.service'))
    .sort();
}

export function parseUnit(text: string, path: string): Unit {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    // systemd joins a line ending in a backslash with the next, the backslash becoming a space.
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) throw new Error(`${path}:${i + 1}: not a key=value line in a section: ${line}`);
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return { name: basename(path), path, text, sections };
}

export function readUnit(name: string): Unit {
  const path = join(DEPLOY_DIR, name);
  return parseUnit(readFileSync(path, 'utf8'), path);
}

/** The unit with a drop-in applied as systemd does: its assignments added after the unit's, an
 * empty one (`ExecStart=`) resetting the key's list first. */
export function withDropIn(unit: Unit, dropIn: string, path: string): Unit {
  const extra = parseUnit(dropIn, path);
  const sections = new Map([...unit.sections].map(([name, entries]) => [name, [...entries]]));
  for (const [name, entries] of extra.sections) {
    let current = sections.get(name) ?? [];
    for (const [key, value] of entries) {
      if (value === '') current = current.filter(([k]) => k !== key);
      else current.push([key, value]);
    }
    sections.set(name, current);
  }
  return { ...unit, text: `${unit.text}\n${dropIn}`, sections };
}

/** The drop-ins a markdown file shows: ```ini blocks whose first line names the file,
 * `# /etc/systemd/system/UNIT.d/NAME.conf`. */
export function dropInsIn(markdown: string): { unit: string; path: string; text: string }[] {
  const out: { unit: string; path: string; text: string }[] = [];
  for (const m of markdown.matchAll(/^```ini\n([\s\S]*?)^```$/gm)) {
    const text = m[1]!;
    const head = /^# (\/etc\/systemd\/system\/([\w.-]+\.service)\.d\/[\w.-]+\.conf)\n/.exec(text);
    if (head) out.push({ unit: head[2]!, path: head[1]!, text });
  }
  return out;
}

export function values(unit: Unit, section: string, key: string): string[] {
  return (unit.sections.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

/** Splits at whitespace, honouring "double" and 'single' quotes (systemd's word rules, without the
 * C escapes none of these files use). */
export function splitWords(text: string, where: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let word = '';
    while (i < text.length && !/\s/.test(text[i]!)) {
      const c = text[i]!;
      if (c === '"' || c === "'") {
        const end = text.indexOf(c, i + 1);
        if (end < 0) throw new Error(`${where}: unbalanced quote in ${text}`);
        word += text.slice(i + 1, end);
        i = end + 1;
      } else if (c === '\\') {
        throw new Error(`${where}: escapes are not handled here: ${text}`);
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  return words;
}

/** An EnvironmentFile: KEY=VALUE lines, # and ; comments, optional quotes around the value. */
export function parseEnvFile(text: string, path: string): Record<string, string> {
  const env: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw new Error(`${path}:${i + 1}: not KEY=VALUE: ${line}`);
    let value = m[2]!.trim();
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) value = value.slice(1, -1);
    else if (/["'\\]/.test(value)) throw new Error(`${path}:${i + 1}: quoting not handled here: ${line}`);
    env[m[1]!] = value;
  });
  return env;
}

/** The example shipped for an EnvironmentFile= path: /etc/xlane/NAME.env → NAME.env.example. */
export function exampleFor(envFile: string): string {
  const m = /^-?\/etc\/xlane\/([a-z]+\.env)$/.exec(envFile);
  if (!m) throw new Error(`EnvironmentFile=${envFile}: expected /etc/xlane/NAME.env`);
  return join(DEPLOY_DIR, `${m[1]}.example`);
}

/** The unit's environment: Environment= defaults, then its EnvironmentFile= (the shipped example),
 * which wins as in systemd, then the test's overrides. */
export function unitEnvironment(unit: Unit, overrides: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of values(unit, 'Service', 'Environment')) {
    for (const word of splitWords(v, unit.name)) {
      const eq = word.indexOf('=');
      if (eq <= 0) throw new Error(`${unit.name}: Environment= word without =: ${word}`);
      env[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  for (const file of values(unit, 'Service', 'EnvironmentFile')) {
    const example = exampleFor(file);
    Object.assign(env, parseEnvFile(readFileSync(example, 'utf8'), example));
  }
  return { ...env, ...overrides };
}

export interface Specifiers {
  /** %t: the runtime directory root (/run for system units). */
  t: string;
  /** %S: the state directory root (/var/lib). */
  S: string;
  /** %d: the unit's credentials directory (LoadCredential=), /run/credentials/UNIT. */
  d?: string;
}

export const SYSTEM_SPECIFIERS: Specifiers = { t: '/run', S: '/var/lib' };

/** An Exec*= value as the argv systemd would run. */
export function execArgv(
  value: string,
  env: Record<string, string>,
  spec: Specifiers,
  where: string,
): string[] {
  const line = value.replace(/^[-@:+!]+/, '');
  const argv: string[] = [];
  for (const raw of splitWords(line, where)) {
    const word = raw.replace(/%(.)/g, (_, c: string) => {
      if (c === '%') return '%';
      if (c === 't' || c === 'S') return spec[c];
      if (c === 'd' && spec.d !== undefined) return spec.d;
      throw new Error(`${where}: specifier %${c} is not handled here`);
    });
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) {
      argv.push(...(env[whole[1]!] ?? '').split(/\s+/).filter((w) => w !== ''));
      continue;
    }
    if (word.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*\}/g, '').includes('$'))
      throw new Error(`${where}: $VAR inside a word is not expanded by systemd: ${word}`);
    argv.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? ''));
  }
  return argv;
}

/** Every Exec*= line of the unit that runs the xlane CLI, as [key, value]. */
export function xlaneExecLines(unit: Unit): [string, string][] {
  return (unit.sections.get('Service') ?? []).filter(
    ([k, v]) => k.startsWith('Exec') && v.replace(/^[-@:+!]+/, '').split(/\s+/)[0] === XLANE_BIN,
  );
}

/** What commander made of a command line: the sub-command's path, its options and arguments. */
export interface Parsed {
  command: string;
  opts: Record<string, unknown>;
  args: string[];
}

/** Parses `args` (after the `xlane` word) with the real command tree, every action replaced by a
 * recorder: exactly commander's parsing (unknown options, missing values and required options,
 * option parsers, excess arguments) without running anything. A fresh tree each time: commander
 * keeps option values between parses. */
export async function parseCli(args: string[]): Promise<Parsed> {
  const program = buildProgram();
  let got: Parsed | undefined;
  const record = (cmd: Command) => {
    if (cmd.commands.length > 0) {
      for (const sub of cmd.commands) record(sub);
      return;
    }
    cmd.action((...actionArgs: unknown[]) => {
      const self = actionArgs[actionArgs.length - 1] as Command;
      const names: string[] = [];
      for (let c: Command | null = self; c?.parent; c = c.parent) names.unshift(c.name());
      got = { command: names.join(' '), opts: self.opts(), args: [...self.args] };
    });
  };
  record(program);
  // --version and --help print and leave through the exit override; the print is not the test's.
  program.configureOutput({ writeOut: () => {}, outputError: () => {} });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && ['commander.version', 'commander.helpDisplayed'].includes(err.code))
      return { command: '', opts: { [err.code.slice('commander.'.length)]: true }, args: [] };
    throw err;
  }
  if (!got) throw new Error(`xlane ${args.join(' ')}: no command ran`);
  return got;
}

/** The argv with the installed CLI replaced by this checkout's sources (tsx), so the test runs the
 * code under test rather than a build that may be older. */
export function fromSources(argv: string[]): string[] {
  if (argv[0] !== XLANE_BIN) throw new Error(`not an xlane command line: ${argv.join(' ')}`);
  return [process.execPath, '--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...argv.slice(1)];
}

/** Creates the unit's StateDirectory= and RuntimeDirectory= under the test's %S and %t, as systemd
 * does before it starts the service. */
export function makeUnitDirectories(unit: Unit, spec: Specifiers): void {
  for (const [key, root, modeKey] of [
    ['StateDirectory', spec.S, 'StateDirectoryMode'],
    ['RuntimeDirectory', spec.t, 'RuntimeDirectoryMode'],
  ] as const) {
    const mode = Number.parseInt(values(unit, 'Service', modeKey)[0] ?? '0755', 8);
    for (const v of values(unit, 'Service', key))
      for (const d of v.split(/\s+/).filter(Boolean)) mkdirSync(join(root, d), { recursive: true, mode });
  }
}

const LIMIT_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/** This process's hard RLIMIT_MEMLOCK in bytes (Infinity: unlimited). */
export function hardMemlock(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max locked memory'));
  const hard = line?.split(/\s{2,}/)[2];
  if (!hard) throw new Error('no "Max locked memory" in /proc/self/limits');
  return hard === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hard);
}

export function parseLimit(v: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(v);
  if (!m) throw new Error(`limit ${v} is not handled here`);
  return Number(m[1]) * LIMIT_UNITS[m[2]!]!;
}

/** Capability names as setpriv wants them: CAP_NET_ADMIN → net_admin. */
function capList(unit: Unit, key: string): string[] {
  return values(unit, 'Service', key)
    .flatMap((v) => v.split(/\s+/))
    .filter(Boolean)
    .map((c) => c.replace(/^CAP_/, '').toLowerCase());
}

/**
 * A command prefix (root only) that gives a process the privileges the unit gives its service:
 * the ambient and bounding capability sets, no_new_privs and LimitMEMLOCK (lowered to this
 * machine's hard limit when that is smaller: raising it needs CAP_SYS_RESOURCE). The uid stays 0,
 * with the securebits that take root's implicit capabilities away: the kernel then checks exactly
 * the capabilities, as for User=xlane, and the process can still read a checkout under /root (CI).
 * The sandbox (ProtectSystem=, ...) is not reproduced: only systemd sets that up.
 */
export function privilegesOf(unit: Unit, caps?: string[]): string[] {
  const user = values(unit, 'Service', 'User');
  if (user.length !== 1 || user[0] === 'root') throw new Error(`${unit.name}: expected User= not root`);
  if (values(unit, 'Service', 'CapabilityBoundingSet').length === 0)
    throw new Error(`${unit.name}: expected an explicit CapabilityBoundingSet=`);
  const ambient = caps ?? capList(unit, 'AmbientCapabilities');
  const bounding = caps ?? capList(unit, 'CapabilityBoundingSet');
  const set = (names: string[]) => ['-all', ...names.map((c) => `+${c}`)].join(',');
  const prefix: string[] = [];
  const memlock = values(unit, 'Service', 'LimitMEMLOCK')[0];
  if (memlock !== undefined)
    prefix.push('prlimit', `--memlock=${Math.min(parseLimit(memlock), hardMemlock())}`, '--');
  prefix.push(
    'setpriv',
    '--securebits=+noroot,+noroot_locked',
    `--inh-caps=${set(ambient)}`,
    `--ambient-caps=${set(ambient)}`,
    `--bounding-set=${set(bounding)}`,
  );
  if (values(unit, 'Service', 'NoNewPrivileges')[0] === 'yes') prefix.push('--no-new-privs');
  prefix.push('--');
  return prefix;
}
