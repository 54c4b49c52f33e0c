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

  it('takes http and https URLs, with or without a trailing slash', () => {
    expect(new ControllerClient({ url: 'http://127.0.0.1:7300/' }).url).toBe('http://127.0.0.1:7300');
    expect(new ControllerClient({ url: 'https://ctl.example:8443' }).url).toBe('https://ctl.example:8443');
  });
});
