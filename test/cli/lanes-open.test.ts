// `xlane lanes open` against a real controller on loopback: `--wait` that runs out while the lane is
// still pending must fail the command (a script cannot tell otherwise), and an auth refusal must say
// how to pass the token.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildProgram, formatError } from '../../src/cli/program.js';
import { ControllerClient } from '../../src/client/controller-client.js';
import { type RunningController, startController } from '../../src/controller/server.js';
import { EXAMPLE_TOPOLOGY } from '../../src/demo/controller-demo.js';

const TOKEN = 'secret-test-token';
let controller: RunningController;
let out: string[];

beforeEach(async () => {
  controller = await startController({
    topology: EXAMPLE_TOPOLOGY,
    dbPath: ':memory:',
    listen: '127.0.0.1:0',
    token: TOKEN,
    logger: false,
  });
  out = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    out.push(args.map(String).join(' '));
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await controller.close();
});

const openArgs = (extra: string[]) => [
  'node',
  'xlane',
  'lanes',
  'open',
  '--controller',
  controller.url,
  '--from',
  'h1',
  '--to',
  'h3',
  '--size',
  '64',
  '--period',
  '100us',
  ...extra,
];

async function refusal(args: string[]): Promise<unknown> {
  try {
    await buildProgram().parseAsync(args);
  } catch (err) {
    return err;
  }
  throw new Error('the command succeeded');
}

describe('xlane lanes open', () => {
  it('--wait fails with XL_ERR_TIMEOUT when the lane is still pending, after printing it', async () => {
    // The receiver's agent registered but never acknowledges: the lane stays pending.
    await new ControllerClient({ url: controller.url, token: TOKEN }).registerHost('h3');
    const err = await refusal(openArgs(['--token', TOKEN, '--wait', '--wait-timeout', '200ms']));
    expect(err).toMatchObject({
      code: 'XL_ERR_TIMEOUT',
      message: expect.stringMatching(
        /^lane L\d+ still pending after --wait-timeout 200ms \(no ack from h3\)/,
      ),
    });
    expect(out.join('\n')).toMatch(/pending: waiting for acks from h3/);
  });

  it('succeeds without --wait though the lane is pending', async () => {
    await new ControllerClient({ url: controller.url, token: TOKEN }).registerHost('h3');
    await buildProgram().parseAsync(openArgs(['--token', TOKEN]));
    expect(out.join('\n')).toMatch(/pending: waiting for acks from h3/);
  });

  it('without the token: XL_ERR_UNAUTHORIZED, reported with how to pass it', async () => {
    const saved = process.env.XLANE_TOKEN;
    delete process.env.XLANE_TOKEN;
    try {
      const err = await refusal(openArgs([]));
      expect(err).toMatchObject({ code: 'XL_ERR_UNAUTHORIZED' });
      expect(formatError(err)).toMatch(
        /^xlane: XL_ERR_UNAUTHORIZED: .*\(pass the controller token with --token or --token-file, or set XLANE_TOKEN or XLANE_TOKEN_FILE\)$/,
      );
    } finally {
      if (saved !== undefined) process.env.XLANE_TOKEN = saved;
    }
  });
});
