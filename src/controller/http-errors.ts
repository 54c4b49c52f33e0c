// One error shape for every failure: {error: {code: 'XL_ERR_*', message, details?}} with the code's
// status from errors.ts. Fastify's own errors (bad JSON, size limit, media type, schema) are mapped
// to stable codes here, so a client never has to know fastify's FST_* names.
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorCode, isXlaneError, XlaneError } from '../errors.js';

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'XL_ERR_BAD_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'XL_ERR_BAD_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'XL_ERR_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'XL_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'XL_ERR_VALIDATION',
  FST_ERR_VALIDATION: 'XL_ERR_VALIDATION',
};

/** Turns anything thrown in a request into an XlaneError; unknown errors become XL_ERR_INTERNAL. */
export function toXlaneError(err: unknown): XlaneError {
  if (isXlaneError(err)) return err;
  const fe = err as Partial<FastifyError> & { validationContext?: string };
  if (fe?.validation) {
    const errors = fe.validation.map((v) => {
      const field = `${fe.validationContext ?? 'body'}${v.instancePath}`;
      return { path: field, message: ajvMessage(v) };
    });
    const first = errors[0];
    return new XlaneError('XL_ERR_VALIDATION', first ? `${first.path} ${first.message}` : 'invalid request', {
      errors,
    });
  }
  const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) return new XlaneError(mapped, fe.message ?? mapped);
  if (err instanceof SyntaxError) return new XlaneError('XL_ERR_BAD_JSON', err.message);
  // Any other client error fastify raises (4xx) stays a client error, never a 500.
  const status = fe?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new XlaneError('XL_ERR_VALIDATION', fe.message ?? 'bad request', { fastifyCode: fe.code });
  }
  return new XlaneError('XL_ERR_INTERNAL', 'internal error', undefined, { cause: err });
}

/** Ajv's words, with the values it means where it only says "allowed values" or "constant". */
function ajvMessage(v: NonNullable<FastifyError['validation']>[number]): string {
  const p = v.params as Record<string, unknown>;
  if (v.keyword === 'additionalProperties') return `${v.message} (${String(p.additionalProperty)})`;
  if (v.keyword === 'enum' && Array.isArray(p.allowedValues)) {
    return `must be one of: ${p.allowedValues.map((x) => JSON.stringify(x)).join(', ')}`;
  }
  if (v.keyword === 'const') return `must be ${JSON.stringify(p.allowedValue)}`;
  return v.message ?? 'is invalid';
}

/** HTTP that never became a request (bad request line or headers, a Content-Length that is not
 * one, a body cut short, headers over Node's limit) is answered in the API's error shape too,
 * straight on the socket: no route, hook or reply exists for it. */
export function clientErrorHandler(err: NodeJS.ErrnoException & { reason?: string }, socket: Socket): void {
  // A reset or already destroyed socket has nobody left to answer (fastify's default does the same).
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let xe: XlaneError;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    xe = new XlaneError('XL_ERR_TOO_LARGE', `request headers over ${maxHeaderSize} bytes`);
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    // A request not received within requestTimeout (app.ts), e.g. a body that stopped coming.
    status = 408;
    xe = new XlaneError('XL_ERR_TIMEOUT', 'the request was not received in time');
  } else {
    xe = new XlaneError('XL_ERR_BAD_REQUEST', `malformed HTTP request: ${err.reason ?? err.message}`, {
      cause: err.code,
    });
  }
  if (socket.writable) {
    const body = JSON.stringify({ error: xe.toJSON() });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const xe = toXlaneError(err);
  if (xe.statusCode >= 500) request.log.error({ err }, 'request failed');
  void reply.status(xe.statusCode).send({ error: xe.toJSON() });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  const xe = new XlaneError('XL_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
  void reply.status(404).send({ error: xe.toJSON() });
}
