// HTTP client of the controller's /v1 API (fetch). Every failure surfaces as an XlaneError with the
// server's own XL_ERR_* code, so the CLI and agents handle remote and local errors the same way.
import { readFileSync, statSync } from 'node:fs';
import type { GrantChange, LaneRequest, PortReport } from '../alloc/types.js';
import { PACKAGE_VERSION } from '../control-protocol.js';
import type { HostBoundsMeasurement } from '../controller/host-bounds.js';
import type {
  CloseResult,
  HostGrants,
  HostLatencyResult,
  HostView,
  LaneView,
  TopologyResult,
} from '../controller/lifecycle.js';
import { type ErrorCode, ErrorCodes, XlaneError } from '../errors.js';
import { topologyToYaml } from '../topology/load.js';
import type { LatencyRange, TopologySpec } from '../topology/spec.js';

export const DEFAULT_CONTROLLER_URL = 'http://127.0.0.1:7300';

export interface ControllerClientOptions {
  /** Base URL; default env XLANE_CONTROLLER, else http://127.0.0.1:7300. */
  url?: string;
  /** Bearer token; default env XLANE_TOKEN, or the file env XLANE_TOKEN_FILE names
   * (tokenFromEnvironment). */
  token?: string;
  /** Per-request timeout (ms); long-polls add their own wait to it. */
  timeoutMs?: number;
}

/** `signal` ends the request when it aborts (XL_ERR_CONNECT): whoever is stopping does not wait out
 * the timeout of a controller that accepts connections and does not answer. */
export interface RequestOptions {
  signal?: AbortSignal;
}

export interface Health {
  status: 'ok';
  epoch: number;
  /** The controller's xlane release. */
  version: string;
  /** The control protocol it speaks, and the agents' it serves (control-protocol.ts). */
  protocol: number;
  agentProtocols: { min: number; max: number };
  /** The registered hosts by what their agents said of themselves. */
  agents: { agentVersion?: string; protocol?: number; hosts: number }[];
  lanes: number;
  hosts: number;
}

/** Body of PUT /v1/hosts/:name/latency. */
export interface HostLatencyRequest {
  sendLatency: LatencyRange;
  recvLatency: LatencyRange;
  measured?: HostBoundsMeasurement;
}

export interface OpenLaneResponse {
  lane: LaneView;
  changed: GrantChange[];
}

export class ControllerClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(opts: ControllerClientOptions = {}) {
    this.url = checkUrl(
      opts.url ?? envSetting('XLANE_CONTROLLER', process.env.XLANE_CONTROLLER) ?? DEFAULT_CONTROLLER_URL,
    ).replace(/\/+$/, '');
    this.token = opts.token ?? tokenFromEnvironment();
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  health(): Promise<Health> {
    return this.call('GET', '/v1/health');
  }

  topology(): Promise<TopologySpec> {
    return this.call('GET', '/v1/topology');
  }

  /** The topology as YAML file text. */
  async topologyYaml(): Promise<string> {
    return this.call('GET', '/v1/topology?format=yaml', undefined, 'text');
  }

  /** Replace the topology with a normalised spec or YAML file text (the server parses either). */
  replaceTopology(spec: TopologySpec | string, opts: { force?: boolean } = {}): Promise<TopologyResult> {
    const text = typeof spec === 'string' ? spec : topologyToYaml(spec);
    return this.call('PUT', `/v1/topology${opts.force ? '?force=true' : ''}`, {
      text,
      contentType: 'application/yaml',
    });
  }

  removeHost(name: string, opts: { force?: boolean } = {}): Promise<TopologyResult> {
    return this.call('DELETE', `/v1/topology/hosts/${enc(name)}${opts.force ? '?force=true' : ''}`);
  }

  removeLink(a: string, b: string, opts: { force?: boolean } = {}): Promise<TopologyResult> {
    return this.call('DELETE', `/v1/topology/links/${enc(a)}/${enc(b)}${opts.force ? '?force=true' : ''}`);
  }

  registerHost(
    name: string,
    info: { agentVersion?: string; protocol?: number; engine?: string; clockDomain?: string } = {},
  ): Promise<{ host: HostView; version: number; epoch: number }> {
    return this.call('POST', `/v1/hosts/${enc(name)}/register`, { json: info });
  }

  async hosts(): Promise<HostView[]> {
    return (await this.call<{ hosts: HostView[] }>('GET', '/v1/hosts')).hosts;
  }

  /** Replaces a host's send / receive bounds (e.g. measured by its agent); every grant through the
   * host is re-computed. Refused with XL_ERR_TOPOLOGY_CONFLICT if a lane would break, unless `force`. */
  setHostLatency(
    name: string,
    body: HostLatencyRequest,
    opts: { force?: boolean } = {},
  ): Promise<HostLatencyResult> {
    return this.call('PUT', `/v1/hosts/${enc(name)}/latency${opts.force ? '?force=true' : ''}`, {
      json: body,
    });
  }

  /** Back to the bounds the topology declares for the host. */
  resetHostLatency(name: string, opts: { force?: boolean } = {}): Promise<HostLatencyResult> {
    return this.call('DELETE', `/v1/hosts/${enc(name)}/latency${opts.force ? '?force=true' : ''}`);
  }

  /** Opens a lane; with `waitLiveMs` the call returns once the lane is live or that time passed. */
  openLane(
    request: LaneRequest,
    opts: { waitLiveMs?: number } & RequestOptions = {},
  ): Promise<OpenLaneResponse> {
    const q = opts.waitLiveMs !== undefined ? `?wait=live&timeoutMs=${Math.round(opts.waitLiveMs)}` : '';
    return this.call('POST', `/v1/lanes${q}`, {
      json: request,
      extraMs: opts.waitLiveMs ?? 0,
      signal: opts.signal,
    });
  }

  async lanes(): Promise<LaneView[]> {
    return (await this.call<{ lanes: LaneView[] }>('GET', '/v1/lanes')).lanes;
  }

  async lane(id: string, opts: RequestOptions = {}): Promise<LaneView> {
    return (await this.call<{ lane: LaneView }>('GET', `/v1/lanes/${enc(id)}`, { signal: opts.signal })).lane;
  }

  closeLane(id: string, opts: RequestOptions = {}): Promise<CloseResult> {
    return this.call('DELETE', `/v1/lanes/${enc(id)}`, { signal: opts.signal });
  }

  grants(host: string): Promise<HostGrants> {
    return this.call('GET', `/v1/grants?host=${enc(host)}`);
  }

  async ports(): Promise<PortReport[]> {
    return (await this.call<{ ports: PortReport[] }>('GET', '/v1/ports')).ports;
  }

  /** ws:// URL of the watch stream of `host`. */
  watchUrl(host: string): string {
    return `${this.url.replace(/^http/, 'ws')}/v1/watch?host=${enc(host)}`;
  }

  /** Headers a watch connection needs (the bearer token, if any). */
  authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private async call<T>(
    method: string,
    path: string,
    body?: {
      json?: unknown;
      text?: string;
      contentType?: string;
      extraMs?: number;
      signal?: AbortSignal | undefined;
    },
    as: 'json' | 'text' = 'json',
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders() };
    let payload: string | undefined;
    if (body?.json !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body?.text !== undefined) {
      headers['content-type'] = body.contentType ?? 'text/plain';
      payload = body.text;
    }
    // An AbortController per request, not AbortSignal.any(): Node 20 keeps every combined signal
    // alive as long as the long-lived one (nodejs/node#55351).
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(TIMED_OUT), this.timeoutMs + (body?.extraMs ?? 0));
    const stop = () => ac.abort(STOPPED);
    const signal = body?.signal;
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        signal: ac.signal,
      });
      text = await res.text();
    } catch (err) {
      throw this.transportError(err, ac.signal.reason);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
    if (res.ok && as === 'text') return text as T;
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw this.notXlane(method, path, `HTTP ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      // Every error of the xlane API has an XL_ERR_* code: any other error answer is from something else.
      if (!hasXlaneError(parsed))
        throw this.notXlane(method, path, `HTTP ${res.status} without an xlane error`);
      throw serverError(parsed);
    }
    return parsed as T;
  }

  /** Something answers at the URL, but not as the xlane API does: a wrong port or path, not a bug. */
  private notXlane(method: string, path: string, what: string): XlaneError {
    return new XlaneError(
      'XL_ERR_CONNECT',
      `${method} ${path}: ${this.url} answered ${what}: is that an xlane controller? ` +
        'Point --controller or XLANE_CONTROLLER at one.',
      { url: this.url },
    );
  }

  private transportError(err: unknown, aborted: unknown): XlaneError {
    if (aborted === TIMED_OUT)
      return new XlaneError('XL_ERR_TIMEOUT', `the controller at ${this.url} did not answer in time`);
    if (aborted === STOPPED)
      return new XlaneError(
        'XL_ERR_CONNECT',
        `request to the controller at ${this.url} abandoned: its sender is stopping`,
        { url: this.url },
      );
    const e = err as Error & { cause?: { code?: string } };
    const code = e?.cause?.code;
    const why = code === 'ECONNREFUSED' ? 'connection refused' : (code ?? e?.message ?? String(err));
    return new XlaneError(
      'XL_ERR_CONNECT',
      `cannot reach the controller at ${this.url} (${why}): is \`xlane controller\` running there? ` +
        'Point --controller or XLANE_CONTROLLER at it.',
      { url: this.url, cause: code },
    );
  }
}

const TIMED_OUT = Symbol('timed out');
const STOPPED = Symbol('stopped');

interface WireError {
  error: { code: ErrorCode; message?: string; details?: Record<string, unknown> };
}

function hasXlaneError(body: unknown): body is WireError {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' && /^XL_ERR_[A-Z0-9_]+$/.test(code);
}

function serverError({ error: e }: WireError): XlaneError {
  const message = e.message ?? `the controller answered ${e.code}`;
  if (e.code in ErrorCodes) return new XlaneError(e.code, message, e.details);
  // A code of a later release: what it means is in the message; that the two differ is the
  // controller's version, which a caller can act on.
  return new XlaneError(
    'XL_ERR_VERSION',
    `${message} (${e.code}: a code of a later xlane than this client's ${PACKAGE_VERSION})`,
    { ...e.details, code: e.code },
  );
}

/** Refused here: fetch would report a malformed URL as a failed connection. */
function checkUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `controller URL "${url}" is not a URL (expected e.g. ${DEFAULT_CONTROLLER_URL}); check --controller or XLANE_CONTROLLER`,
      { url },
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `controller URL "${url}" must be http:// or https:// (expected e.g. ${DEFAULT_CONTROLLER_URL})`,
      { url },
    );
  return url;
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

/**
 * An XLANE_* variable as xlane reads it: unset and empty are the same (systemd's `VAR=`, and an
 * env file line left blank, mean "not set"), so the default applies. Only blanks is a mistake, not
 * a value: refused, naming the variable.
 */
export function envSetting(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.trim() === '')
    throw new XlaneError('XL_ERR_VALIDATION', `${name} holds only blanks: unset it or give it a value`, {
      variable: name,
    });
  return value;
}

/** The controller token from the environment: XLANE_TOKEN, or the file XLANE_TOKEN_FILE names
 * (systemd's LoadCredential=). Both set is refused: which one was meant cannot be told. */
export function tokenFromEnvironment(): string | undefined {
  const token = envSetting('XLANE_TOKEN', process.env.XLANE_TOKEN);
  const file = envSetting('XLANE_TOKEN_FILE', process.env.XLANE_TOKEN_FILE);
  if (token !== undefined && file !== undefined)
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      'XLANE_TOKEN and XLANE_TOKEN_FILE are both set: unset one of them',
    );
  if (file !== undefined) return readTokenFile(file, 'XLANE_TOKEN_FILE');
  return token === undefined ? undefined : checkToken(token, 'XLANE_TOKEN');
}

/** Anything longer is not a token file (a wrong path, /dev/zero): refused before reading it. */
const TOKEN_FILE_MAX_BYTES = 4096;

/** The token in `path` (`--token-file`, XLANE_TOKEN_FILE): its trailing line break dropped, as
 * `echo`, editors and `openssl rand -hex 32 >FILE` leave one. */
export function readTokenFile(path: string, source = '--token-file'): string {
  let text: string;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > TOKEN_FILE_MAX_BYTES)
      throw new XlaneError(
        'XL_ERR_VALIDATION',
        `${source} ${path}: ${st.size} bytes is not a token (at most ${TOKEN_FILE_MAX_BYTES})`,
        { file: path },
      );
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof XlaneError) throw err;
    throw new XlaneError('XL_ERR_FILE', `${source} ${path}: cannot read: ${(err as Error).message}`, {
      file: path,
    });
  }
  const token = text.replace(/(\r?\n)+$/, '');
  if (token === '')
    throw new XlaneError('XL_ERR_VALIDATION', `${source} ${path} is empty: write the token into it`, {
      file: path,
    });
  if (/[\r\n]/.test(token))
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `${source} ${path} holds more than one line: the token is its only line`,
      { file: path },
    );
  return checkToken(token, `${source} ${path}`);
}

/**
 * The controller compares the token it was given with the one a request presents trimmed (an HTTP
 * header value loses its surrounding blanks on the way): a token with leading or trailing blanks
 * would refuse every client, and control characters cannot travel in a header at all.
 */
export function checkToken(token: string, source: string): string {
  if (token.trim() === '')
    throw new XlaneError('XL_ERR_VALIDATION', `${source}: the token is empty`, { source });
  if (token !== token.trim())
    throw new XlaneError(
      'XL_ERR_VALIDATION',
      `${source}: the token starts or ends with blanks, which the controller cannot match`,
      { source },
    );
  // biome-ignore lint/suspicious/noControlCharactersInRegex: exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(token))
    throw new XlaneError('XL_ERR_VALIDATION', `${source}: the token holds control characters`, {
      source,
    });
  return token;
}
