// Every `xlane` command line an operator is handed — the units' Exec lines with their env files'
// values, and the shell blocks of docs/deploy.md — is one the real CLI accepts: the command tree of
// src/cli/program.ts parses it (unknown options, missing values, required options and excess
// arguments are refused there), and the agent's and controller's own option checks pass.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEngineKind, parseEngineTuning } from '../../src/agent/engine-factory.js';
import {
  parseBoundsPolicy,
  parseCalibrateSeconds,
  parseHostBoundsMode,
} from '../../src/agent/host-bounds/options.js';
import { loadPeersFile } from '../../src/agent/peers.js';
import { checkListenSafety, parseListen } from '../../src/controller/listen.js';
import { parseDuration } from '../../src/util/units.js';
import {
  DEPLOY_DIR,
  dropInsIn,
  exampleFor,
  execArgv,
  type Parsed,
  parseCli,
  parseEnvFile,
  REPO,
  readUnit,
  SYSTEM_SPECIFIERS,
  splitWords,
  unitEnvironment,
  unitNames,
  values,
  withDropIn,
  XLANE_BIN,
  xlaneExecLines,
} from './units.js';

const DOC = join(REPO, 'docs/deploy.md');
const doc = readFileSync(DOC, 'utf8');

/** The checks the agent's and the controller's actions make before starting anything. */
function checkValues(p: Parsed, env: Record<string, string>): void {
  const o = p.opts as Record<string, string | undefined>;
  if (p.command === 'agent') {
    parseEngineKind(o.engine!);
    parseEngineTuning(o);
    parseHostBoundsMode(o.hostBounds!);
    parseBoundsPolicy(o);
    if (o.calibrateSeconds !== undefined) parseCalibrateSeconds(o.calibrateSeconds);
    for (const d of [o.fdPeriod, o.fdConfirm]) if (d !== undefined) parseDuration(d);
    if (o.core !== undefined) expect(Number.isInteger(Number(o.core)), `--core ${o.core}`).toBe(true);
  }
  // A --token-file is read at start (it is not there to read here): it gives a token.
  if (p.command === 'controller')
    checkListenSafety(
      parseListen(o.listen!),
      o.token ?? (o.tokenFile !== undefined ? 'from --token-file' : env.XLANE_TOKEN),
    );
}

/** src/ reads these from the environment itself (XLANE_CONTROLLER, XLANE_TOKEN, ...). */
function envReadBySource(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts'))
        for (const m of readFileSync(p, 'utf8').matchAll(/process\.env\.([A-Z_]+)/g)) names.add(m[1]!);
    }
  };
  walk(join(REPO, 'src'));
  return names;
}

interface DocCommand {
  line: number;
  words: string[];
}

/** The `xlane …` commands of the doc's ```sh blocks: continuation lines joined, comments cut,
 * split at && || ; |, and `sudo` or VAR=value prefixes dropped. */
function docCommands(markdown: string): DocCommand[] {
  const out: DocCommand[] = [];
  const lines = markdown.split('\n');
  let inShell = false;
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)/.exec(lines[i]!);
    if (fence) {
      inShell = !inShell && fence[1] === 'sh';
      continue;
    }
    if (!inShell) continue;
    const start = i + 1;
    let text = lines[i]!;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]!}`;
    for (const segment of shellSegments(text)) {
      const words = splitWords(segment, `${DOC}:${start}`);
      while (words.length && (words[0] === 'sudo' || /^[A-Z_]+=/.test(words[0]!))) words.shift();
      if (words[0] === 'xlane') out.push({ line: start, words: words.slice(1) });
    }
  }
  return out;
}

/** A shell line cut at a comment and at && || ; | outside quotes. */
function shellSegments(text: string): string[] {
  const segments: string[] = [];
  let quote = '';
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = '';
      current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      current += c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) break;
    else if (c === ';' || c === '|' || (c === '&' && text[i + 1] === '&')) {
      segments.push(current);
      current = '';
      if (text[i + 1] === c) i++;
    } else current += c;
  }
  segments.push(current);
  return segments.map((s) => s.trim()).filter(Boolean);
}

describe('the units run the CLI as it is', () => {
  const units = unitNames();

  it('ships the controller, the agent and the tuning unit', () => {
    expect(units).toEqual(['xlane-agent.service', 'xlane-controller.service', 'xlane-tune.service']);
  });

  it.each(units)('%s: every Exec line runs xlane and parses with its env file values', async (name) => {
    const unit = readUnit(name);
    const exec = (unit.sections.get('Service') ?? []).filter(([k]) => k.startsWith('Exec'));
    expect(exec.length).toBeGreaterThan(0);
    // A line running something else would not be checked here: refuse it rather than skip it.
    expect(xlaneExecLines(unit)).toEqual(exec);
    const env = unitEnvironment(unit);
    for (const [key, value] of exec) {
      const argv = execArgv(value, env, SYSTEM_SPECIFIERS, `${name} ${key}`);
      expect(argv[0]).toBe(XLANE_BIN);
      try {
        checkValues(await parseCli(argv.slice(1)), env);
      } catch (err) {
        throw new Error(`${name} ${key}: ${argv.join(' ')}: ${(err as Error).message}`);
      }
    }
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${VAR}, not JavaScript's
  it.each(units)('%s: every ${VAR} has a value, every $VAR is defined somewhere', (name) => {
    const unit = readUnit(name);
    const env = unitEnvironment(unit);
    for (const [key, value] of xlaneExecLines(unit)) {
      for (const m of value.matchAll(/\$\{([A-Za-z_]\w*)\}/g))
        expect(env[m[1]!], `${name} ${key}: \${${m[1]}} is one argument, empty if unset`).toMatch(/\S/);
      for (const m of value.matchAll(/\$([A-Za-z_]\w*)/g))
        expect(env, `${name} ${key}: $${m[1]} is set nowhere (a typo?)`).toHaveProperty([m[1]!]);
    }
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${VAR}, not JavaScript's
  it('the expansion follows systemd: ${VAR} one word, $VAR zero or more, specifiers first', () => {
    const env = { ONE: 'a b', MANY: '--x 1  --y', EMPTY: '' };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${VAR}, not JavaScript's
    expect(execArgv('/bin/x --s ${ONE} $MANY $EMPTY %t/d %S/e %%', env, SYSTEM_SPECIFIERS, 't')).toEqual([
      '/bin/x',
      '--s',
      'a b',
      '--x',
      '1',
      '--y',
      '/run/d',
      '/var/lib/e',
      '%',
    ]);
    expect(() => execArgv('/bin/x --a=$ONE', env, SYSTEM_SPECIFIERS, 't')).toThrow(/not expanded/);
    expect(() => execArgv('/bin/x %i', env, SYSTEM_SPECIFIERS, 't')).toThrow(/specifier/);
  });

  // biome-ignore lint/suspicious/noTemplateCurlyInString: systemd's ${VAR}, not JavaScript's
  it.each(units)('%s: a ${VAR} left empty is refused by the CLI, naming its option', async (name) => {
    const unit = readUnit(name);
    for (const [key, value] of xlaneExecLines(unit)) {
      for (const m of value.matchAll(/(\S+) \$\{([A-Za-z_]\w*)\}/g)) {
        const [, option, variable] = m;
        const argv = execArgv(value, unitEnvironment(unit, { [variable!]: '' }), SYSTEM_SPECIFIERS, key);
        await expect(parseCli(argv.slice(1)), `${name} ${key} with ${variable}=`).rejects.toMatchObject({
          code: 'XL_ERR_VALIDATION',
          message: expect.stringContaining(`option ${option} is empty`),
        });
      }
    }
  });

  it('a unit option the CLI does not have is refused by this check', async () => {
    await expect(parseCli(['agent', '--host', 'h1', '--interface', 'eth0'])).rejects.toMatchObject({
      code: 'XL_ERR_VALIDATION',
    });
    await expect(parseCli(['controller', '--state-dir', '/var/lib/xlane'])).rejects.toMatchObject({
      code: 'XL_ERR_VALIDATION',
    });
    const agent = await parseCli(['agent', '--host', 'h1', '--engine', 'natve']);
    expect(() => checkValues(agent, {})).toThrow(/--engine/);
  });
});

describe("docs/deploy.md's drop-ins: the token as a systemd credential", () => {
  const dropIns = dropInsIn(doc);

  it('shows one for the controller and one for the agent', () => {
    expect(dropIns.map((d) => d.path)).toEqual([
      '/etc/systemd/system/xlane-controller.service.d/token.conf',
      '/etc/systemd/system/xlane-agent.service.d/token.conf',
    ]);
  });

  it.each(dropIns.map((d) => [d.unit, d] as const))(
    '%s: the unit’s own ExecStart with --token-file %%d/token, which the CLI parses',
    async (name, d) => {
      const shipped = readUnit(name);
      const unit = withDropIn(shipped, d.text, d.path);
      expect(values(unit, 'Service', 'LoadCredential')).toEqual(['token:/etc/xlane/token']);
      // Only the token differs: the drop-in follows the unit it replaces the ExecStart= of.
      expect(values(unit, 'Service', 'ExecStart')).toEqual([
        `${values(shipped, 'Service', 'ExecStart')[0]} --token-file %d/token`,
      ]);
      // As the doc says: no XLANE_TOKEN left in the env file.
      const { XLANE_TOKEN: _, ...env } = unitEnvironment(unit);
      const argv = execArgv(
        values(unit, 'Service', 'ExecStart')[0]!,
        env,
        { ...SYSTEM_SPECIFIERS, d: `/run/credentials/${name}` },
        `${d.path} ExecStart`,
      );
      const parsed = await parseCli(argv.slice(1));
      expect(parsed.opts.tokenFile).toBe(`/run/credentials/${name}/token`);
      checkValues(parsed, env);
    },
  );
});

describe('the env file examples', () => {
  const examples = readdirSync(DEPLOY_DIR).filter((f) => f.endsWith('.env.example'));

  it('each EnvironmentFile= of a unit has its example, and each example a unit', () => {
    const used = new Set<string>();
    for (const name of unitNames())
      for (const f of values(readUnit(name), 'Service', 'EnvironmentFile')) {
        expect(existsSync(exampleFor(f)), f).toBe(true);
        used.add(exampleFor(f));
      }
    expect([...used].sort()).toEqual(examples.map((f) => join(DEPLOY_DIR, f)).sort());
  });

  it('every variable they set is used by a unit or read by xlane itself', () => {
    const fromSource = envReadBySource();
    const inUnits = unitNames()
      .map((n) => readUnit(n))
      .flatMap((u) => xlaneExecLines(u).map(([, v]) => v))
      .join('\n');
    for (const f of examples) {
      const env = parseEnvFile(readFileSync(join(DEPLOY_DIR, f), 'utf8'), f);
      for (const key of Object.keys(env))
        expect(
          fromSource.has(key) || new RegExp(`\\$\\{?${key}\\b`).test(inUnits),
          `${f}: ${key} is read by nothing`,
        ).toBe(true);
    }
  });

  it('peers.example is a peers file the agent loads', () => {
    const peers = loadPeersFile(join(DEPLOY_DIR, 'peers.example'));
    expect(peers.size).toBeGreaterThan(0);
  });
});

describe('docs/deploy.md', () => {
  const commands = docCommands(doc);

  it('has the commands of every step (the extraction finds them)', () => {
    const names = new Set(commands.map((c) => c.words.slice(0, 2).join(' ')));
    for (const c of ['status', 'lanes open', 'lanes list', 'lanes close', 'tune apply', 'topology check'])
      expect(
        [...names].some((n) => n.startsWith(c)),
        c,
      ).toBe(true);
  });

  it('every xlane command in its shell blocks parses with the real CLI', async () => {
    for (const c of commands) {
      const parsed = await parseCli(c.words).catch((err: Error) => {
        throw new Error(`docs/deploy.md:${c.line}: xlane ${c.words.join(' ')}: ${err.message}`);
      });
      checkValues(parsed, {});
    }
  });

  it('the extraction sees commands behind sudo, env assignments and &&, not in comments or quotes', () => {
    const md = [
      '```sh',
      'sudo A=1 xlane status --json && xlane lanes list # xlane bogus',
      "echo 'xlane nope' | xlane tune core \\",
      '  --json',
      '```',
      '```',
      'xlane not-a-shell-block',
      '```',
    ].join('\n');
    expect(docCommands(md).map((c) => c.words.join(' '))).toEqual([
      'status --json',
      'lanes list',
      'tune core --json',
    ]);
  });

  it('names every file of deploy/systemd, and only files that exist', () => {
    const shipped = readdirSync(DEPLOY_DIR).sort();
    const named = new Set([...doc.matchAll(/`([\w.-]+\.(?:service|example|sysusers))`/g)].map((m) => m[1]!));
    for (const f of shipped) expect(named.has(f), `${f} is not in docs/deploy.md`).toBe(true);
    for (const f of named) expect(shipped, `docs/deploy.md names ${f}`).toContain(f);
  });

  it('every path it names in the repository exists', () => {
    for (const m of doc.matchAll(/`((?:src|test|native|deploy|docs)\/[\w./-]+)`/g))
      expect(existsSync(join(REPO, m[1]!)), m[1]).toBe(true);
  });

  it('every relative link points at a file and, with #, at a heading there', () => {
    const links = [...doc.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^\w+:/.test(l));
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) {
      const [path, anchor] = link.split('#');
      const file = path ? resolve(dirname(DOC), path) : DOC;
      expect(existsSync(file), link).toBe(true);
      if (anchor) expect(headingSlugs(readFileSync(file, 'utf8')), link).toContain(anchor);
    }
  });
});

/** GitHub's anchors: the heading lower-cased, punctuation dropped, spaces to hyphens. */
function headingSlugs(markdown: string): string[] {
  return [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
    m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-'),
  );
}
