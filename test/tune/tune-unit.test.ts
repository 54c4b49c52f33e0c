// xlane-tune.service keeps its record at tune's default, /run/xlane-tune/tune-state.json, in its
// own root-only RuntimeDirectory=: revert writes what the record says to any file and runs its undo
// commands as root, so the record must be out of every other unit's directories. The default used
// to be /var/lib/xlane/tune-state.json, in the xlane user's StateDirectory=. The unit's Exec lines,
// run on a fake tree, apply and revert through that file, and docs/deploy.md names the same one.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultStateFile, legacyStateFile } from '../../src/tune/tune-state.js';
import {
  execArgv,
  fromSources,
  makeUnitDirectories,
  REPO,
  readUnit,
  type Specifiers,
  SYSTEM_SPECIFIERS,
  unitEnvironment,
  unitNames,
  values,
} from '../deploy/units.js';
import { copyFixture, snapshot } from './helpers.js';

const unit = readUnit('xlane-tune.service');

/** The record the command line acts on: its --state, or tune's default. */
function stateOf(argv: string[], root = '/'): string {
  const i = argv.indexOf('--state');
  return i < 0 ? defaultStateFile(root) : argv[i + 1]!;
}

function execLine(key: 'ExecStart' | 'ExecStop', env: Record<string, string>, spec: Specifiers): string[] {
  const [line] = values(unit, 'Service', key);
  return execArgv(line!, env, spec, `xlane-tune.service ${key}`);
}

describe('xlane-tune.service and its record', () => {
  it('keeps the record in its own root-only runtime directory, out of the xlane user’s reach', () => {
    const env = unitEnvironment(unit);
    const file = stateOf(execLine('ExecStart', env, SYSTEM_SPECIFIERS));
    expect(stateOf(execLine('ExecStop', env, SYSTEM_SPECIFIERS))).toBe(file);
    // tune's own default: a revert or check run by hand finds the unit's record without --state.
    expect(file).toBe(defaultStateFile('/'));
    expect(file).toBe('/run/xlane-tune/tune-state.json');
    expect(values(unit, 'Service', 'User')).toEqual([]);
    const [runtimeDir] = values(unit, 'Service', 'RuntimeDirectory');
    expect(file).toBe(`/run/${runtimeDir}/tune-state.json`);
    expect(values(unit, 'Service', 'RuntimeDirectoryMode')).toEqual(['0700']);
    // A failed revert can be run again after the stop.
    expect(values(unit, 'Service', 'RuntimeDirectoryPreserve')).toEqual(['yes']);
    // Every directory a non-root unit gets from systemd is that user's: none may hold root's record.
    for (const name of unitNames().filter((n) => n !== unit.name)) {
      const other = readUnit(name);
      expect(values(other, 'Service', 'User'), name).not.toEqual([]);
      for (const [key, root] of [
        ['StateDirectory', '/var/lib'],
        ['RuntimeDirectory', '/run'],
      ] as const)
        for (const d of values(other, 'Service', key).flatMap((v) => v.split(/\s+/)))
          expect(file.startsWith(`${root}/${d}/`), `${file} is in ${name}'s ${key}=${d}`).toBe(false);
    }
    // Why the default moved: the old one lies in the agent's StateDirectory=.
    const agent = readUnit('xlane-agent.service');
    expect(
      legacyStateFile('/').startsWith(`/var/lib/${values(agent, 'Service', 'StateDirectory')[0]}/`),
    ).toBe(true);
  });

  it('docs/deploy.md runs tune by hand on the unit’s record', () => {
    const doc = readFileSync(join(REPO, 'docs/deploy.md'), 'utf8');
    const commands = [...doc.matchAll(/^xlane tune (?:apply|revert|check)\b[^\n#]*/gm)].map((m) => m[0]);
    expect(commands.length).toBeGreaterThan(0);
    for (const c of commands) expect(stateOf(c.split(/\s+/)), c).toBe(defaultStateFile('/'));
    expect(doc).toContain(defaultStateFile('/'));
  });

  it('ExecStart then ExecStop on a fake tree: applied through the record, reverted to the byte', {
    timeout: 120_000,
  }, () => {
    const { root } = copyFixture('misconfigured');
    try {
      // The fake tree plays the machine's /run too: systemd makes the unit's RuntimeDirectory= there.
      const spec: Specifiers = { t: join(root, 'run'), S: join(root, 'var/lib') };
      makeUnitDirectories(unit, spec);
      // The fixture's NIC; the machine is the fake tree (a flag added after the unit's own).
      const env = unitEnvironment(unit, { XLANE_IFACE: 'eno1' });
      const run = (key: 'ExecStart' | 'ExecStop') => {
        const argv = [...fromSources(execLine(key, env, spec)), '--root', root];
        const r = spawnSync(argv[0]!, argv.slice(1), { cwd: REPO, encoding: 'utf8' });
        expect(r.status, `${key}: ${r.stderr}`).toBe(0);
        return r.stdout;
      };
      const before = snapshot(root);
      const file = stateOf(execLine('ExecStart', env, spec), root);
      expect(file).toBe(join(root, 'run/xlane-tune/tune-state.json'));
      expect(run('ExecStart')).toContain(`originals saved in ${file}`);
      expect(JSON.parse(readFileSync(file, 'utf8')).changes.length).toBeGreaterThan(0);
      expect(run('ExecStop')).toContain(`removed ${file}`);
      expect(snapshot(root)).toEqual(before);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
