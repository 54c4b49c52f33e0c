// Random bodies against the lane API: the answer is always 2xx or 4xx (never a 500), every lane
// the API said it admitted is still there, and the stored grants still verify against the topology.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyAllocation } from '../../src/alloc/verify.js';
import { makeApp } from './helpers.js';

const host = fc.constantFrom('h1', 'h2', 'h3', 'h9', '', 's1', 'h1\u0000');
const number = fc.oneof(
  fc.integer({ min: -10, max: 2_000_000 }),
  fc.double({ noNaN: false }),
  fc.constantFrom(0, 1, 64, 1418, 1419, 100_000, 1e13),
  fc.string({ maxLength: 6 }),
  fc.constant(null),
);
const nearlyValid = fc.record(
  {
    sender: host,
    receivers: fc.oneof(fc.array(host, { maxLength: 4 }), host),
    maxPayloadBytes: number,
    minPeriodNs: number,
    deadlineNs: number,
    minPayloadBytes: number,
    maxPeriodNs: number,
    policy: fc.constantFrom('reject', 'coalesce', 'drop', 3),
    name: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('fd', 'hb')),
  },
  { requiredKeys: ['sender', 'receivers', 'maxPayloadBytes', 'minPeriodNs'] },
);
const body = fc.oneof(
  { weight: 4, arbitrary: nearlyValid.map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const step = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant('open' as const), payload: body, wait: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('close' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('other' as const),
      method: fc.constantFrom('PUT', 'POST'),
      url: fc.constantFrom(
        '/v1/topology',
        '/v1/hosts/h2/register',
        '/v1/hosts/h9/register',
        '/v1/topology?force=0',
      ),
      payload: body,
      type: fc.constantFrom('application/json', 'application/yaml'),
    }),
  },
);

describe('lane API under random input', () => {
  it('never answers 5xx and never loses an admitted lane', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const { app, lifecycle } = await makeApp();
        try {
          const admitted = new Set<string>();
          for (const s of steps) {
            if (s.op === 'open') {
              const res = await app.inject({
                method: 'POST',
                url: s.wait ? '/v1/lanes?wait=live&timeoutMs=0' : '/v1/lanes',
                headers: { 'content-type': 'application/json' },
                payload: s.payload,
              });
              expect(res.statusCode, res.body).toBeLessThan(500);
              if (res.statusCode === 201) admitted.add(res.json().lane.id);
              else expect(res.json().error.code).toMatch(/^XL_ERR_/);
            } else if (s.op === 'other') {
              // without force a topology change never revokes, so the admitted set must hold
              const res = await app.inject({
                method: s.method,
                url: s.url,
                headers: { 'content-type': s.type },
                payload: s.payload,
              });
              expect(res.statusCode, res.body).toBeLessThan(500);
            } else {
              const ids = [...admitted];
              const id = ids.length ? ids[s.pick % ids.length]! : 'L0';
              const res = await app.inject({ method: 'DELETE', url: `/v1/lanes/${id}` });
              expect(res.statusCode).toBe(ids.length ? 200 : 404);
              admitted.delete(id);
            }
          }
          const lanes = (await app.inject({ url: '/v1/lanes' })).json().lanes as { id: string }[];
          expect(new Set(lanes.map((l) => l.id))).toEqual(admitted);
          const persisted = lifecycle
            .listLanes()
            .map((l) => ({ laneId: l.id, request: l.request, grant: stripState(l.grant) }));
          expect(verifyAllocation(lifecycle.topology, persisted)).toEqual([]);
        } finally {
          await app.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});

function stripState<T extends { state: unknown }>(g: T): Omit<T, 'state'> {
  const { state: _s, ...rest } = g;
  return rest;
}
