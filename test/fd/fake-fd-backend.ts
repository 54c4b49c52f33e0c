// The client tests' in-memory LocalBackend plus a failure detector the test drives by hand.
import { XlaneError } from '../../src/errors.js';
import type { FdEvent, GroupSubscription, MemberStatus } from '../../src/fd/types.js';
import { FakeBackend } from '../client/fake-backend.js';

export function memberStatus(member: string, over: Partial<MemberStatus> = {}): MemberStatus {
  return {
    group: 'g',
    member,
    state: 'up',
    laneId: 'L2',
    incarnation: 7,
    lastHeartbeatNs: 1_000,
    lastHeartbeatSentNs: 900,
    detectedNs: 1_000,
    lastDetectionNs: 0,
    timeoutNs: 1_110_000,
    suspicions: 0,
    downs: 0,
    ...over,
  };
}

export function fdEvent(member: string, state: FdEvent['state'], over: Partial<FdEvent> = {}): FdEvent {
  return {
    group: 'g',
    member,
    state,
    cause: state === 'up' ? 'heartbeat' : state === 'suspect' ? 'timeout' : 'confirmed',
    incarnation: 7,
    lastHeartbeatNs: 1_000,
    lastHeartbeatSentNs: 900,
    detectedNs: 2_111_000,
    timeoutNs: 1_110_000,
    ...over,
  };
}

export class FdFakeBackend extends FakeBackend {
  readonly groups = new Map<string, MemberStatus[]>([['g', [memberStatus('h2'), memberStatus('h3')]]]);
  readonly groupListeners = new Map<string, Set<(e: FdEvent) => void>>();
  /** Emitted right after a subscription (microtask), to test ordering against the reply. */
  immediate: FdEvent | undefined;

  subscribeGroup(group: string, onEvent: (e: FdEvent) => void): GroupSubscription {
    const members = this.groups.get(group);
    if (!members) throw new XlaneError('XL_ERR_NOT_FOUND', `no failure-detector group ${group}`, { group });
    const set = this.groupListeners.get(group) ?? new Set();
    this.groupListeners.set(group, set);
    set.add(onEvent);
    const first = this.immediate;
    if (first) queueMicrotask(() => onEvent(first));
    return { members: members.map((m) => ({ ...m })), unsubscribe: () => set.delete(onEvent) };
  }

  pushFd(e: FdEvent): void {
    for (const l of [...(this.groupListeners.get(e.group) ?? [])]) l(e);
  }

  groupSubscribers(group: string): number {
    return this.groupListeners.get(group)?.size ?? 0;
  }
}
