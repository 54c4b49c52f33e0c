// ControllerClient pointed at the wrong thing: something that is not an xlane controller answers
// XL_ERR_CONNECT ("is that an xlane controller?"), not XL_ERR_INTERNAL (a bug of xlane), and a URL
// that is no URL is refused as input, before any connection is tried.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerClient } from '../../src/client/controller-client.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** A plain web server on loopback answering every request with this status, type and body. */
async function otherServer(status: number, type: string, body: string): Promise<string> {
  server = createServer((_, res) => res.writeHead(status, { 'content-type': type }).end(body));
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('ControllerClient against a server that is not an xlane controller', () => {
  it.each([
    ['a 404 page', 404, 'text/html', '<html>Error response: 404</html>'],
    ['a 200 page', 200, 'text/html', '<html>Directory listing</html>'],
    ['a JSON error of its own', 404, 'application/json', '{"message":"not here","statusCode":404}'],
  ])('%s is XL_ERR_CONNECT asking whether it is one', async (_, status, type, body) => {
    const url = await otherServer(status, type, body);
    await expect(new ControllerClient({ url }).lanes()).rejects.toMatchObject({
      code: 'XL_ERR_CONNECT',
      message: expect.stringMatching(
        new RegExp(`^GET /v1/lanes: ${url} answered HTTP ${status} .*: is that an xlane controller\\?`),
      ),
    });
  });

  it("passes an xlane controller's own error code through", async () => {
    const url = await otherServer(
      404,
      'application/json',
      '{"error":{"code":"XL_ERR_UNKNOWN_LANE","message":"no lane L9"}}',
    );
    await expect(new ControllerClient({ url }).lane('L9')).rejects.toMatchObject({
      code: 'XL_ERR_UNKNOWN_LANE',
      message: 'no lane L9',
    });
  });
});

describe('ControllerClient URL', () => {
  it.each([
    ['notaurl', /"notaurl" is not a URL/],
    ['127.0.0.1:7300', /"127.0.0.1:7300" is not a URL \(expected e.g. http:\/\/127.0.0.1:7300\)/],
    ['ftp://127.0.0.1/', /must be http:\/\/ or https:\/\//],
  ])('%s is refused with XL_ERR_VALIDATION', (url, message) => {
    expect(() => new ControllerClient({ url })).toThrow(
      expect.objectContaining({ code: 'XL_ERR_VALIDATION', message: expect.stringMatching(message) }),
    );
  });

  it("takes an error code of a later release as XL_ERR_VERSION, keeping the controller's words", async () => {
    const url = await otherServer(
      409,
      'application/json',
      JSON.stringify({
        error: { code: 'XL_ERR_QUOTA', message: 'h1 holds its 64 lanes', details: { host: 'h1' } },
      }),
    );
    await expect(new ControllerClient({ url }).lanes()).rejects.toMatchObject({
      code: 'XL_ERR_VERSION',
      message: expect.stringMatching(/^h1 holds its 64 lanes \(XL_ERR_QUOTA: a code of a later xlane than/),
      details: { host: 'h1', code: 'XL_ERR_QUOTA' },
    });
  });

  it('takes http and https URLs, with or without a trailing slash', () => {
    expect(new ControllerClient({ url: 'http://127.0.0.1:7300/' }).url).toBe('http://127.0.0.1:7300');
    expect(new ControllerClient({ url: 'https://ctl.example:8443' }).url).toBe('https://ctl.example:8443');
  });
});

describe('ControllerClient against a controller that does not answer', () => {
  /** Reads requests and never answers, like a stopped process whose kernel still accepts. */
  async function silentServer(): Promise<string> {
    server = createServer(() => {});
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }
  afterEach(() => server?.closeAllConnections());

  it('gives up after its timeout with XL_ERR_TIMEOUT', async () => {
    const url = await silentServer();
    await expect(new ControllerClient({ url, timeoutMs: 100 }).lanes()).rejects.toMatchObject({
      code: 'XL_ERR_TIMEOUT',
      message: `the controller at ${url} did not answer in time`,
    });
  });

  it('ends a request when its signal aborts, and only that one', async () => {
    const url = await silentServer();
    const client = new ControllerClient({ url, timeoutMs: 60_000 });
    const stopping = new AbortController();
    const waiting = client.closeLane('L1', { signal: stopping.signal });
    const other = client.lanes().then(
      () => 'answered',
      () => 'ended',
    );
    setTimeout(() => stopping.abort(), 50);
    await expect(waiting).rejects.toMatchObject({
      code: 'XL_ERR_CONNECT',
      message: `request to the controller at ${url} abandoned: its sender is stopping`,
    });
    // A request given a signal already aborted ends at once.
    await expect(client.lane('L1', { signal: stopping.signal })).rejects.toMatchObject({
      code: 'XL_ERR_CONNECT',
    });
    const late = await Promise.race([other, new Promise((r) => setTimeout(() => r('still waiting'), 200))]);
    expect(late).toBe('still waiting');
  });
});
