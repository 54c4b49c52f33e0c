// The shipped units pass `systemd-analyze verify`, with nothing to say about them. PID 1 need not be
// systemd: verify runs offline against a temporary root that holds the host's own unit directory
// (for sysinit.target, network-online.target, ...), our units, and the repository's bin/xlane.js as
// /usr/local/bin/xlane (verify refuses an ExecStart= whose binary is missing or not executable).
// verify exits 0 on most mistakes ("Unknown key …, ignoring"), so any line it prints is a failure
// too; the mutation cases below prove that this check catches them. verify does not resolve
// specifiers (%S) or environment variables in Exec lines: command-lines.test.ts expands those.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_DIR, dropInsIn, REPO, readUnit, unitNames, values, XLANE_BIN } from './units.js';

const ANALYZE = '/usr/bin/systemd-analyze';
const SYSUSERS = '/usr/bin/systemd-sysusers';
const HOST_UNITS = '/usr/lib/systemd/system';
// CI installs systemd (.ci/run) and counts a skip as a failure; elsewhere, no systemd, no check.
const haveSystemd =
  existsSync(ANALYZE) && existsSync(SYSUSERS) && existsSync(join(HOST_UNITS, 'sysinit.target'));

/** What `systemd-analyze security` scores the units today (0 = locked down, 10 = root with
 * everything). A hardening line dropped from a unit raises its score past this. */
const EXPOSURE_AT_MOST: Record<string, number> = {
  'xlane-controller.service': 3.0,
  'xlane-agent.service': 3.4,
};

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

describe.skipIf(!haveSystemd)('systemd-analyze on the shipped units', () => {
  let dir: string;
  let root: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xlane-units-'));
    root = join(dir, 'root');
    cpSync(HOST_UNITS, join(root, HOST_UNITS), { recursive: true });
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    mkdirSync(join(root, '/usr/local/bin'), { recursive: true });
    copyFileSync(join(REPO, 'bin/xlane.js'), join(root, XLANE_BIN));
    chmodSync(join(root, XLANE_BIN), 0o755);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Installs `units` (name → text; a drop-in as UNIT.d/NAME.conf) in the temporary root and
   * verifies the units: verify's own output. */
  function verify(units: Record<string, string>): { status: number | null; out: string } {
    const installed = join(root, 'etc/systemd/system');
    rmSync(installed, { recursive: true, force: true });
    mkdirSync(installed, { recursive: true });
    for (const [name, text] of Object.entries(units)) {
      mkdirSync(dirname(join(installed, name)), { recursive: true });
      writeFileSync(join(installed, name), text);
    }
    return run(ANALYZE, [
      'verify',
      `--root=${root}`,
      '--man=no',
      '--generators=no',
      '--recursive-errors=yes',
      ...Object.keys(units).filter((n) => !n.includes('/')),
    ]);
  }

  /** docs/deploy.md's drop-ins (the token as a credential), as installed next to the units. */
  const docDropIns = (): Record<string, string> =>
    Object.fromEntries(
      dropInsIn(readFileSync(join(REPO, 'docs/deploy.md'), 'utf8')).map((d) => [
        d.path.replace('/etc/systemd/system/', ''),
        d.text,
      ]),
    );

  const shipped = (): Record<string, string> =>
    Object.fromEntries(unitNames().map((n) => [n, readUnit(n).text]));

  it('verify accepts every unit and prints nothing', () => {
    expect(verify(shipped())).toEqual({ status: 0, out: '' });
  });

  it("accepts docs/deploy.md's drop-ins too, and sees a mistake in one", () => {
    const dropIns = docDropIns();
    expect(Object.keys(dropIns)).toEqual([
      'xlane-controller.service.d/token.conf',
      'xlane-agent.service.d/token.conf',
    ]);
    expect(verify({ ...shipped(), ...dropIns })).toEqual({ status: 0, out: '' });
    const name = 'xlane-agent.service.d/token.conf';
    const broken = dropIns[name]!.replace(/^LoadCredential=/m, 'LoadCredentials=');
    expect(broken).not.toBe(dropIns[name]);
    const r = verify({ ...shipped(), ...dropIns, [name]: broken });
    expect(r.status !== 0 || r.out !== '', 'verify said nothing about the drop-in').toBe(true);
  });

  it.each([
    ['a key systemd does not know', 'xlane-agent.service', (t: string) => t.replace(/^UMask=/m, 'UMsk=')],
    [
      'a value it cannot parse',
      'xlane-agent.service',
      (t: string) => t.replace(/^Restart=on-failure$/m, 'Restart=sometimes'),
    ],
    [
      'a limit it cannot parse',
      'xlane-agent.service',
      (t: string) => t.replace(/^LimitMEMLOCK=16M$/m, 'LimitMEMLOCK=16 megs'),
    ],
    [
      'a section it does not know',
      'xlane-controller.service',
      (t: string) => t.replace(/^\[Service\]$/m, '[Servce]'),
    ],
    [
      'a binary that is not there',
      'xlane-tune.service',
      (t: string) => t.replaceAll(XLANE_BIN, '/usr/bin/xlane'),
    ],
    [
      'a service type it does not know',
      'xlane-controller.service',
      (t: string) => t.replace(/^Type=exec$/m, 'Type=execute'),
    ],
    [
      'an absolute StateDirectory=',
      'xlane-agent.service',
      (t: string) => t.replace(/^StateDirectory=xlane$/m, 'StateDirectory=/var/lib/xlane'),
    ],
  ])('a unit with %s fails the check', (_, name, breakIt) => {
    const units = shipped();
    const broken = breakIt(units[name]!);
    expect(broken).not.toBe(units[name]);
    const r = verify({ ...units, [name]: broken });
    expect(r.status !== 0 || r.out !== '', `verify said nothing about ${name}`).toBe(true);
  });

  it('every capability the units name is one the kernel has (verify ignores unknown names)', () => {
    const known = new Set(
      run(ANALYZE, ['capability'])
        .out.split('\n')
        .map((l) => l.trim().split(/\s+/)[0]!.toUpperCase())
        .filter((c) => c.startsWith('CAP_')),
    );
    expect(known.has('CAP_NET_ADMIN')).toBe(true);
    for (const name of unitNames()) {
      const unit = readUnit(name);
      for (const key of ['AmbientCapabilities', 'CapabilityBoundingSet'])
        for (const v of values(unit, 'Service', key))
          for (const cap of v.replace(/^~/, '').split(/\s+/).filter(Boolean))
            expect(known.has(cap), `${name} ${key}=${cap}`).toBe(true);
    }
    expect(known.has('CAP_NET_ADMN')).toBe(false);
  });

  it.each(Object.entries(EXPOSURE_AT_MOST))('%s keeps its sandbox (exposure ≤ %s)', (name, most) => {
    verify(shipped());
    const r = run(ANALYZE, ['security', '--offline=true', `--root=${root}`, '--no-pager', name]);
    const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(r.out)?.[1]);
    expect(score, r.out).toBeLessThanOrEqual(most);
  });

  it('the sysusers file creates the xlane user and group', () => {
    const sysroot = join(dir, 'sysusers');
    mkdirSync(join(sysroot, 'etc'), { recursive: true });
    const r = run(SYSUSERS, [`--root=${sysroot}`, join(DEPLOY_DIR, 'xlane.sysusers')]);
    expect(r.status, r.out).toBe(0);
    expect(readFileSync(join(sysroot, 'etc/passwd'), 'utf8')).toMatch(
      /^xlane:x:\d+:\d+:[^:]*:\/var\/lib\/xlane:\/usr\/sbin\/nologin$/m,
    );
    expect(readFileSync(join(sysroot, 'etc/group'), 'utf8')).toMatch(/^xlane:x:\d+:$/m);
    // The users the units run as are the one this file makes.
    for (const name of ['xlane-controller.service', 'xlane-agent.service']) {
      expect(values(readUnit(name), 'Service', 'User')).toEqual(['xlane']);
      expect(values(readUnit(name), 'Service', 'Group')).toEqual(['xlane']);
    }
  });
});
