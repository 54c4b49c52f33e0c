// The namespace plumbing, for real (root): traffic crosses the bridge between two namespaces, and
// every way a run can end leaves no namespace behind.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isRoot, listNamespaces, NetnsTestbed, sweepStaleNamespaces } from '../../src/testbed/netns.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/leave-testbed.ts', import.meta.url));

const mine = (prefix: string) => listNamespaces().filter((n) => n.startsWith(`${prefix}-`));

/** Runs the fixture; resolves with the prefix it printed once it printed it (and the child). */
function runFixture(mode: 'exit' | 'crash') {
  // `node --import tsx`, not the tsx binary: the PID in the prefix must be the process we kill.
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const prefix = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) =>
      out.includes('\n') ? undefined : reject(new Error(`fixture exited ${code}`)),
    );
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return { child, prefix, exited };
}

describe.skipIf(!isRoot())('netns testbed', () => {
  let tb: NetnsTestbed | undefined;
  afterEach(() => {
    tb?.destroy();
    tb = undefined;
  });

  it('joins two namespaces through a bridge: UDP both ways', async () => {
    tb = NetnsTestbed.create({ hosts: ['h1', 'h2'] });
    const [h1, h2] = [tb.host('h1'), tb.host('h2')];
    expect(h1.address).toBe(`10.77.${tb.run}.1`);
    expect(h2.address).toBe(`10.77.${tb.run}.2`);
    expect(mine(tb.prefix).sort()).toEqual([`${tb.prefix}-h1`, `${tb.prefix}-h2`, `${tb.prefix}-sw`].sort());

    // A UDP echo server in h2 (a long-running process), a client in h1.
    const server = tb.spawn(h2.ns, [
      process.execPath,
      '-e',
      `const s=require('node:dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(Buffer.concat([Buffer.from('echo:'),m]),r.port,r.address));s.bind(7400,'${h2.address}',()=>console.log('ready'));`,
    ]);
    await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
    const client = await tb.exec(h1.ns, [
      process.execPath,
      '-e',
      `const s=require('node:dgram').createSocket('udp4');s.on('message',(m,r)=>{console.log(m.toString()+' from '+r.address);process.exit(0)});s.send('hi',7400,'${h2.address}');setTimeout(()=>process.exit(3),5000);`,
    ]);
    expect(client.code, client.stderr).toBe(0);
    expect(client.stdout.trim()).toBe(`echo:hi from ${h2.address}`);

    const prefix = tb.prefix;
    const serverGone = new Promise((r) => server.once('exit', (_code, signal) => r(signal)));
    tb.destroy();
    expect(mine(prefix)).toEqual([]);
    expect(await serverGone).toBe('SIGKILL');
  });

  it('removes what it built when a run exits without destroy()', async () => {
    const run = runFixture('exit');
    const prefix = await run.prefix;
    await run.exited;
    expect(mine(prefix)).toEqual([]);
  });

  it('sweeps leftovers of a crashed run, and only those', async () => {
    tb = NetnsTestbed.create({ hosts: ['x'] }); // ours and alive: must survive the sweep
    const run = runFixture('crash');
    const prefix = await run.prefix;
    expect(mine(prefix)).toHaveLength(3);
    run.child.kill('SIGKILL');
    await run.exited;
    expect(mine(prefix)).toHaveLength(3); // SIGKILL runs no handler: the leftovers are real
    const removed = sweepStaleNamespaces();
    expect(removed.sort()).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-sw`].sort());
    expect(mine(prefix)).toEqual([]);
    expect(mine(tb.prefix)).toHaveLength(2);
  });

  it('rejects bad host names before touching the kernel', () => {
    const before = listNamespaces();
    expect(() => NetnsTestbed.create({ hosts: ['bad name'] })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION' }),
    );
    expect(listNamespaces()).toEqual(before);
  });
});
