// HTTP client of the controller's /v1 API (fetch). Every failure surfaces as an XlaneError with the
// server's own XL_ERR_* code, so the CLI and agents handle remote and local errors the same way.
import type { GrantChange, LaneRequest, PortReport } from '../alloc/types.js';
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
  /** Bearer token; default env XLANE_TOKEN. */
  token?: string;
  /** Per-request timeout (ms); long-polls add their own wait to it. */
  timeoutMs?: number;
}

export interface Health {
  status: 'ok';
  epoch: number;
  version: string;
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
    this.url = checkUrl(opts.url ?? process.env.XLANE_CONTROLLER ?? DEFAULT_CONTROLLER_URL).replace(
      /\/+$/,
      '',
    );
    this.token = opts.token ?? (process.env.XLANE_TOKEN || undefined);
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
    info: { agentVersion?: string; engine?: string; clockDomain?: string } = {},
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
  openLane(request: LaneRequest, opts: { waitLiveMs?: number } = {}): Promise<OpenLaneResponse> {
    const q = opts.waitLiveMs !== undefined ? `?wait=live&timeoutMs=${Math.round(opts.waitLiveMs)}` : '';
    return this.call('POST', `/v1/lanes${q}`, { json: request, extraMs: opts.waitLiveMs ?? 0 });
  }

  async lanes(): Promise<LaneView[]> {
    return (await this.call<{ lanes: LaneView[] }>('GET', '/v1/lanes')).lanes;
  }

  async lane(id: string): Promise<LaneView> {
    return (await this.call<{ lane: LaneView }>('GET', `/v1/lanes/${enc(id)}`)).lane;
  }

  closeLane(id: string): Promise<CloseResult> {
    return this.call('DELETE', `/v1/lanes/${enc(id)}`);
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
    body?: { json?: unknown; text?: string; contentType?: string; extraMs?: number },
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
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        signal: AbortSignal.timeout(this.timeoutMs + (body?.extraMs ?? 0)),
      });
    } catch (err) {
      throw this.transportError(err);
    }
    const text = await res.text();
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

  private transportError(err: unknown): XlaneError {
    const e = err as Error & { cause?: { code?: string } };
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
      return new XlaneError('XL_ERR_TIMEOUT', `the controller at ${this.url} did not answer in time`);
    }
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

interface WireError {
  error: { code: ErrorCode; message?: string; details?: Record<string, unknown> };
}

function hasXlaneError(body: unknown): body is WireError {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' && code in ErrorCodes;
}

function serverError({ error: e }: WireError): XlaneError {
  return new XlaneError(e.code, e.message ?? `the controller answered ${e.code}`, e.details);
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
