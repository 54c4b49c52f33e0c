// X-FD's Prometheus metrics, read from the group service's member table at scrape time (nothing
// per heartbeat). Times on the engine's monotonic clock are turned into Unix time at scrape.
import { Counter, Gauge, type Registry } from 'prom-client';
import { monotonicNs } from '../../engine/clock.js';
import type { MemberStatus } from '../../fd/types.js';

export interface FdMetricsSource {
  statuses(): MemberStatus[];
}

const STATES = ['unknown', 'up', 'suspect', 'down'] as const;

export function registerFdMetrics(
  registry: Registry,
  src: FdMetricsSource,
  clockNs: () => number = monotonicNs,
): void {
  const labelNames = ['group', 'member'] as const;
  new Gauge({
    name: 'xlane_fd_member_state',
    help: '1 for the state each failure-detector group member is in (unknown, up, suspect, down)',
    labelNames: [...labelNames, 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of src.statuses())
        for (const state of STATES)
          this.set({ group: s.group, member: s.member, state }, s.state === state ? 1 : 0);
    },
  });
  new Counter({
    name: 'xlane_fd_suspicions_total',
    help: 'Times a member was suspected (no heartbeat within TO) since the agent started',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of src.statuses()) this.inc({ group: s.group, member: s.member }, s.suspicions);
    },
  });
  new Counter({
    name: 'xlane_fd_downs_total',
    help: 'Times a member was declared down (confirmed, restarted, never heard, lane closed)',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of src.statuses()) this.inc({ group: s.group, member: s.member }, s.downs);
    },
  });
  new Gauge({
    name: 'xlane_fd_last_detection_timestamp_seconds',
    help: 'Unix time of the last suspicion or down verdict about the member (0: none)',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const nowNs = clockNs();
      const nowS = Date.now() / 1000;
      for (const s of src.statuses()) {
        const v = s.lastDetectionNs > 0 ? nowS - (nowNs - s.lastDetectionNs) / 1e9 : 0;
        this.set({ group: s.group, member: s.member }, v);
      }
    },
  });
  new Gauge({
    name: 'xlane_fd_timeout_seconds',
    help: 'Detection timeout TO = period + lambda_min + 2*delta in force for the member (0: no live lane)',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of src.statuses()) this.set({ group: s.group, member: s.member }, s.timeoutNs / 1e9);
    },
  });
  new Gauge({
    name: 'xlane_fd_member_incarnation',
    help: 'Incarnation of the last heartbeat heard from the member (-1: none)',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of src.statuses()) this.set({ group: s.group, member: s.member }, s.incarnation);
    },
  });
}
