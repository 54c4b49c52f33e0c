// Lane specs come from grants the agent received; an engine that trusted a bad one would send
// frames the controller never accounted for, so every field is checked before it reaches the worker.
import { MAX_PAYLOAD_BYTES } from '../../alloc/wire.js';
import { XlaneError } from '../../errors.js';
import type { ReceiverSpec, SenderSpec } from '../types.js';

const u32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
const ipv4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const port = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;

function check(errors: string[], ok: boolean, message: string): void {
  if (!ok) errors.push(message);
}

function fail(kind: string, laneId: unknown, errors: string[]): never {
  throw new XlaneError(
    'XL_ERR_VALIDATION',
    `invalid ${kind} spec for lane ${String(laneId)}: ${errors.join('; ')}`,
    {
      laneId,
      errors: errors.map((message) => ({ path: kind, message })),
    },
  );
}

export function validateSenderSpec(s: SenderSpec): void {
  const e: string[] = [];
  check(e, typeof s.laneId === 'string' && s.laneId.length > 0, 'laneId must be a non-empty string');
  check(e, u32(s.wireId) && s.wireId > 0, 'wireId must be a u32 > 0');
  check(e, u32(s.epoch), 'epoch must be a u32');
  check(
    e,
    Number.isInteger(s.maxPayloadBytes) && s.maxPayloadBytes >= 0 && s.maxPayloadBytes <= MAX_PAYLOAD_BYTES,
    `maxPayloadBytes must be 0..${MAX_PAYLOAD_BYTES}`,
  );
  check(e, Number.isFinite(s.minPeriodNs) && s.minPeriodNs > 0, 'minPeriodNs must be > 0');
  // E ≥ π would let two frames leave together: the grid (engine/schedule.ts) needs E < π.
  if (s.releaseJitterNs !== undefined)
    check(
      e,
      Number.isFinite(s.releaseJitterNs) && s.releaseJitterNs >= 0 && s.releaseJitterNs < s.minPeriodNs,
      'releaseJitterNs must be ≥ 0 and below minPeriodNs',
    );
  if (s.phaseNs !== undefined)
    check(
      e,
      Number.isInteger(s.phaseNs) && s.phaseNs >= 0 && s.phaseNs < s.minPeriodNs,
      'phaseNs must be an integer ≥ 0 and below minPeriodNs',
    );
  check(e, s.policy === 'reject' || s.policy === 'coalesce', "policy must be 'reject' or 'coalesce'");
  check(e, port(s.srcPort), 'srcPort must be 0..65535');
  check(e, Array.isArray(s.destinations) && s.destinations.length > 0, 'destinations must not be empty');
  for (const [i, d] of (s.destinations ?? []).entries()) {
    check(e, ipv4.test(d.address), `destinations[${i}].address must be an IPv4 address`);
    check(e, port(d.port) && d.port > 0, `destinations[${i}].port must be 1..65535`);
  }
  if (s.heartbeat !== undefined)
    check(e, u32(s.heartbeat?.incarnation), 'heartbeat.incarnation must be a u32');
  if (e.length) fail('sender', s.laneId, e);
}

export function validateReceiverSpec(s: ReceiverSpec): void {
  const e: string[] = [];
  check(e, typeof s.laneId === 'string' && s.laneId.length > 0, 'laneId must be a non-empty string');
  check(e, u32(s.wireId) && s.wireId > 0, 'wireId must be a u32 > 0');
  check(e, u32(s.epoch), 'epoch must be a u32');
  check(e, ipv4.test(s.senderAddress), 'senderAddress must be an IPv4 address');
  check(
    e,
    Number.isInteger(s.maxPayloadBytes) && s.maxPayloadBytes >= 0 && s.maxPayloadBytes <= MAX_PAYLOAD_BYTES,
    `maxPayloadBytes must be 0..${MAX_PAYLOAD_BYTES}`,
  );
  check(e, s.lambdaMinNs >= 0 && s.lambdaMaxNs >= s.lambdaMinNs, 'need 0 <= lambdaMinNs <= lambdaMaxNs');
  const hb = s.heartbeat;
  if (hb !== undefined) {
    check(e, typeof hb === 'object' && hb !== null, 'heartbeat must be an object');
    check(
      e,
      hb?.deliver === undefined || typeof hb.deliver === 'boolean',
      'heartbeat.deliver must be a boolean',
    );
    const t = hb?.timeoutNs;
    check(
      e,
      t === undefined || (Number.isFinite(t) && t >= 0 && t <= Number.MAX_SAFE_INTEGER),
      'heartbeat.timeoutNs must be >= 0',
    );
  }
  if (e.length) fail('receiver', s.laneId, e);
}
