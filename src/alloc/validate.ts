// Checks a LaneRequest's numbers and shape before any routing or math (XL_ERR_VALIDATION), and
// resolves the flexible bounds to plain numbers.
import { XlaneError } from '../errors.js';
import type { LanePolicy, LaneRequest } from './types.js';
import { MAX_PAYLOAD_BYTES } from './wire.js';

/** Shortest period a lane may ask for: 1 µs. */
export const MIN_PERIOD_NS = 1000;

export interface NormalisedRequest {
  sigmaReq: number;
  sigmaMin: number;
  piReq: number;
  piMax: number;
  deadline: number;
  policy: LanePolicy;
}

function fail(path: string, message: string): never {
  throw new XlaneError('XL_ERR_VALIDATION', `invalid lane request: ${path} ${message}`, {
    errors: [{ path, message }],
  });
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

export function validateRequest(laneId: unknown, req: LaneRequest): NormalisedRequest {
  if (typeof laneId !== 'string' || laneId.length === 0) fail('laneId', 'must be a non-empty string');
  if (typeof req !== 'object' || req === null) fail('', 'must be an object');
  if (req.name !== undefined && (typeof req.name !== 'string' || req.name.length === 0))
    fail('name', 'must be a non-empty string');
  if (typeof req.sender !== 'string' || req.sender.length === 0) fail('sender', 'must be a host name');
  if (!Array.isArray(req.receivers) || req.receivers.length === 0)
    fail('receivers', 'must list at least one host');
  const seen = new Set<string>();
  req.receivers.forEach((r, i) => {
    if (typeof r !== 'string' || r.length === 0) fail(`receivers/${i}`, 'must be a host name');
    if (r === req.sender) fail(`receivers/${i}`, `"${r}" is the sender`);
    if (seen.has(r)) fail(`receivers/${i}`, `"${r}" is listed twice`);
    seen.add(r);
  });
  const sigma = req.maxPayloadBytes;
  if (!isInt(sigma) || sigma < 1 || sigma > MAX_PAYLOAD_BYTES)
    fail('maxPayloadBytes', `must be an integer in 1..${MAX_PAYLOAD_BYTES} (got ${String(sigma)})`);
  const pi = req.minPeriodNs;
  if (!isInt(pi) || pi < MIN_PERIOD_NS)
    fail('minPeriodNs', `must be an integer ≥ ${MIN_PERIOD_NS} ns (got ${String(pi)})`);
  const sigmaMin = req.minPayloadBytes ?? sigma;
  if (!isInt(sigmaMin) || sigmaMin < 1 || sigmaMin > sigma)
    fail('minPayloadBytes', `must be an integer in 1..maxPayloadBytes (got ${String(sigmaMin)})`);
  const piMax = req.maxPeriodNs ?? pi;
  if (!isInt(piMax) || piMax < pi)
    fail('maxPeriodNs', `must be an integer ≥ minPeriodNs (got ${String(piMax)})`);
  const deadline = req.deadlineNs ?? Number.POSITIVE_INFINITY;
  if (typeof deadline !== 'number' || Number.isNaN(deadline) || deadline <= 0)
    fail('deadlineNs', `must be a positive number of ns (got ${String(req.deadlineNs)})`);
  if (req.deadlineNs !== undefined && !Number.isFinite(deadline)) fail('deadlineNs', 'must be finite');
  const policy = req.policy ?? 'reject';
  if (policy !== 'reject' && policy !== 'coalesce') fail('policy', 'must be "reject" or "coalesce"');
  return { sigmaReq: sigma, sigmaMin, piReq: pi, piMax, deadline, policy };
}
