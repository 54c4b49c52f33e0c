// DSCP and SO_PRIORITY: read back from the lane's socket with getsockopt, and seen by the kernel's
// packet classifier: a u32 filter matching tos 0xb8 (DSCP 46, EF) on a veth into a throwaway
// namespace feeds an HTB class whose packet counter must equal the EF frames sent.
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeEngine } from '../../src/engine/native/engine.js';
import type { SenderSpec } from '../../src/engine/types.js';
import { freeUdpPort, waitFor } from './helpers.js';
import { nativeEngine, skipReason } from './native-helpers.js';

function sender(laneId: string, wireId: number, address: string, over: Partial<SenderSpec> = {}): SenderSpec {
  return {
    laneId,
    wireId,
    epoch: 1,
    maxPayloadBytes: 16,
    minPeriodNs: 100_000,
    policy: 'reject',
    dscp: 46,
    priority: 5,
    srcPort: 0,
    destinations: [{ host: 'peer', address, port: 9 }],
    ...over,
  };
}

function hasTool(cmd: string): boolean {
  try {
    execFileSync(cmd, ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const isRoot = process.getuid?.() === 0;
const kernelSkip = !isRoot ? '(needs root)' : !hasTool('ip') || !hasTool('tc') ? '(needs ip and tc)' : '';

describe.skipIf(skipReason !== '')(`native engine DSCP ${skipReason}`, () => {
  const open: NativeEngine[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((e) => e.close()));
  });

  it('sets IP_TOS = dscp << 2 and SO_PRIORITY on the lane socket, and follows a grant change', async () => {
    const e = nativeEngine({ receive: 'blocking' });
    open.push(e);
    await e.start({ bindAddress: '127.0.0.1', port: await freeUdpPort() });
    e.setSender(sender('L1', 1, '127.0.0.1'));
    expect(e.senderSocketOptions('L1')).toMatchObject({ tos: 46 << 2, priority: 5 });
    e.setSender(sender('L1', 1, '127.0.0.1', { dscp: 34, priority: 3, epoch: 2 }));
    expect(e.senderSocketOptions('L1')).toMatchObject({ tos: 34 << 2, priority: 3 });
  });

  it.skipIf(kernelSkip !== '')(
    `marks frames the kernel's u32 tos filter classifies as EF ${kernelSkip}`,
    async () => {
      const id = `${process.pid % 100000}`;
      const ns = `xlt-dscp-${id}`;
      const [va, vb] = [`xld${id}a`, `xld${id}b`];
      const net = `10.254.${process.pid % 250}`;
      const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
      try {
        sh('ip', ['netns', 'add', ns]);
        sh('ip', ['link', 'add', va, 'type', 'veth', 'peer', 'name', vb]);
        sh('ip', ['link', 'set', vb, 'netns', ns]);
        sh('ip', ['addr', 'add', `${net}.1/30`, 'dev', va]);
        sh('ip', ['link', 'set', va, 'up']);
        sh('ip', ['-n', ns, 'addr', 'add', `${net}.2/30`, 'dev', vb]);
        sh('ip', ['-n', ns, 'link', 'set', vb, 'up']);
        sh('tc', ['qdisc', 'add', 'dev', va, 'root', 'handle', '1:', 'htb', 'default', '20']);
        for (const c of ['1:10', '1:20'])
          sh('tc', ['class', 'add', 'dev', va, 'parent', '1:', 'classid', c, 'htb', 'rate', '1gbit']);
        sh('tc', [
          'filter',
          'add',
          'dev',
          va,
          'parent',
          '1:',
          'protocol',
          'ip',
          'prio',
          '1',
          'u32',
          'match',
          'ip',
          'tos',
          '0xb8',
          '0xfc',
          'flowid',
          '1:10',
        ]);
        const classPackets = (cls: string): number => {
          const out = sh('tc', ['-s', 'class', 'show', 'dev', va, 'classid', cls]);
          return Number(/Sent \d+ bytes (\d+) pkt/.exec(out)?.[1] ?? Number.NaN);
        };

        const e = nativeEngine({ receive: 'blocking' });
        open.push(e);
        await e.start({ bindAddress: `${net}.1`, port: await freeUdpPort() });
        e.setSender(sender('L1', 1, `${net}.2`));
        e.setSender(sender('L2', 2, `${net}.2`, { dscp: 0, priority: 0 }));
        const efBefore = classPackets('1:10');
        for (let i = 0; i < 3; i++) {
          e.send('L1', Buffer.from([i]));
          e.send('L2', Buffer.from([i]));
          await waitFor(() => e.counters().lanes.every((l) => l.sent === i + 1), `round ${i}`);
        }
        // Every EF frame, and nothing else, went through the filter into the express class.
        await waitFor(() => classPackets('1:10') - efBefore >= 3, 'the EF class counter');
        expect(classPackets('1:10') - efBefore).toBe(3);
      } finally {
        for (const args of [
          ['link', 'del', va],
          ['netns', 'del', ns],
        ]) {
          try {
            execFileSync('ip', args, { stdio: 'ignore' });
          } catch {
            // not created: nothing to remove
          }
        }
      }
    },
  );
});
