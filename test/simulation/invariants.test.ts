import { EventEmitter } from 'eventemitter3';
import { describe, expect, it } from 'vitest';
import type { SchedulerEvents, SyncStartedEvent } from '../../src/index.js';
import { normalizeFabric } from '../../src/index.js';
import { createInvariantChecker } from '../../src/testing.js';

/** A stand-in scheduler: the checker only listens to public events. */
function fake() {
  const emitter = new EventEmitter<SchedulerEvents>();
  let token = 0;
  const start = (fabricId: string, over: Partial<SyncStartedEvent> = {}): SyncStartedEvent => {
    const e: SyncStartedEvent = { fabricId, scheduledAt: 1000, startedAt: 1000, lateness: 0, attempt: 1, fencingToken: ++token, trigger: 'schedule', ...over };
    emitter.emit('sync:started', e);
    return e;
  };
  const succeed = (e: SyncStartedEvent, finishedAt = e.startedAt + 10) => emitter.emit('sync:succeeded', { ...e, finishedAt, durationMs: finishedAt - e.startedAt });
  const fail = (e: SyncStartedEvent, nextRetryAt: number | null, finishedAt = e.startedAt + 10) =>
    emitter.emit('sync:failed', { ...e, finishedAt, durationMs: finishedAt - e.startedAt, error: new Error('x'), reason: 'error', nextRetryAt });
  return { emitter, start, succeed, fail };
}

describe('createInvariantChecker', () => {
  it("on-cadence: a calendar fabric's runs serve occurrences of its rule, or its grid's first slot", () => {
    const cal = normalizeFabric({ id: 'c', schedule: { cron: '0 * * * *' } }, { syncTimeout: 0 });
    const checker = createInvariantChecker({ definitionOf: (id) => (id === 'c' ? cal : undefined) });
    const s = fake();
    checker.attach(s.emitter);
    const H = 3_600_000;
    s.emitter.emit('fabric:added', { fabricId: 'c' });
    s.succeed(s.start('c', { scheduledAt: 1234, startedAt: 1234 })); // the first run, at once: the grid's first slot
    s.succeed(s.start('c', { scheduledAt: H, startedAt: H }));
    s.succeed(s.start('c', { scheduledAt: 2 * H, startedAt: 2 * H + 5, trigger: 'catch-up' }));
    s.succeed(s.start('c', { scheduledAt: 5000, startedAt: 3 * H, trigger: 'manual' })); // manual runs are off the grid
    s.succeed(s.start('a', { scheduledAt: 777, startedAt: 777 })); // no definition given: unchecked
    expect(checker.violations).toEqual([]);
    s.succeed(s.start('c', { scheduledAt: 2 * H + 1, startedAt: 3 * H }));
    expect(checker.violations.map((v) => [v.invariant, v.fabricId])).toEqual([['on-cadence', 'c']]);
    // re-added: a new grid may begin off the rule again
    s.emitter.emit('fabric:added', { fabricId: 'c' });
    s.succeed(s.start('c', { scheduledAt: 4 * H + 9, startedAt: 4 * H + 9 }));
    expect(checker.violations).toHaveLength(1);
  });

  it('sees nothing wrong in a clean history and keeps a run log', () => {
    const checker = createInvariantChecker();
    const s = fake();
    checker.attach(s.emitter);
    s.emitter.emit('fabric:added', { fabricId: 'a' });
    s.emitter.emit('status:changed', { fabricId: 'a', from: 'never_synced', to: 'syncing', at: 1000 });
    const r1 = s.start('a');
    s.emitter.emit('status:changed', { fabricId: 'a', from: 'syncing', to: 'error', at: 1010 });
    s.fail(r1, 2010);
    const r2 = s.start('a', { trigger: 'retry', attempt: 2, startedAt: 2010 });
    s.succeed(r2);
    s.succeed(s.start('a', { scheduledAt: 61_000, startedAt: 61_005 }));
    s.succeed(s.start('a', { trigger: 'manual', scheduledAt: 61_100, startedAt: 61_100 }));
    expect(checker.violations).toEqual([]);
    expect(() => checker.assertNone()).not.toThrow();
    expect(checker.runsOf('a').map((r) => [r.trigger, r.outcome])).toEqual([['schedule', 'failed'], ['retry', 'succeeded'], ['schedule', 'succeeded'], ['manual', 'succeeded']]);
    expect(checker.lastStartOf('a')).toBe(61_100);
    expect(checker.fabricIds()).toEqual(['a']);
  });

  it('reports overlap, a slot served twice, an early run, a falling token and an illegal transition', () => {
    const checker = createInvariantChecker();
    const s = fake();
    checker.attach(s.emitter);
    const first = s.start('a');
    s.start('a', { trigger: 'manual' });
    s.succeed(first);
    s.start('b', { scheduledAt: 5000, startedAt: 4999 });
    s.start('c');
    s.start('c', { fencingToken: 1 });
    s.emitter.emit('status:changed', { fabricId: 'd', from: 'never_synced', to: 'in_sync', at: 1 });
    const kinds = checker.violations.map((v) => `${v.invariant}:${v.fabricId}`);
    expect(kinds).toEqual(['no-overlap:a', 'never-early:b', 'no-overlap:c', 'slot-once:c', 'fencing-rises:c', 'legal-transition:d']);
    expect(() => checker.assertNone()).toThrow(/6 invariant violation\(s\):\n {2}- \[no-overlap\] a/);
  });

  it('checks overlap and tokens across schedulers sharing a storage', () => {
    const checker = createInvariantChecker();
    const a = fake();
    const b = fake();
    checker.attach(a.emitter, { label: 'A' });
    checker.attach(b.emitter, { label: 'B' });
    a.start('x', { fencingToken: 5 });
    b.start('x', { fencingToken: 5, scheduledAt: 2000, startedAt: 2000 });
    expect(checker.violations.map((v) => v.invariant)).toEqual(['no-overlap', 'fencing-rises']);
    expect(checker.violations[0]!.detail).toMatch(/^B schedule .* while A schedule/);
  });

  it('reports runs after removal until the fabric is added again', () => {
    const checker = createInvariantChecker();
    const s = fake();
    checker.attach(s.emitter);
    s.emitter.emit('fabric:removed', { fabricId: 'a' });
    s.succeed(s.start('a', { trigger: 'manual' }));
    s.emitter.emit('fabric:added', { fabricId: 'a' });
    s.succeed(s.start('a', { scheduledAt: 9000, startedAt: 9000 }));
    expect(checker.violations.map((v) => v.invariant)).toEqual(['removed-stays-removed']);
  });

  it('reports a retry before its backoff, and an end without a start', () => {
    const checker = createInvariantChecker();
    const s = fake();
    checker.attach(s.emitter);
    s.fail(s.start('a'), 3000);
    const early = s.start('a', { trigger: 'retry', attempt: 2, startedAt: 2999 });
    s.succeed(early);
    s.succeed(early);
    expect(checker.violations.map((v) => v.invariant)).toEqual(['retry-backoff', 'run-ends-once']);
  });

  it('starts a fresh grid when a fabric is added again or re-enabled', () => {
    const checker = createInvariantChecker();
    const s = fake();
    checker.attach(s.emitter);
    s.succeed(s.start('a'));
    s.emitter.emit('status:changed', { fabricId: 'a', from: 'in_sync', to: 'disabled', at: 1000 });
    s.emitter.emit('status:changed', { fabricId: 'a', from: 'disabled', to: 'in_sync', at: 1000 });
    s.succeed(s.start('a'));
    s.emitter.emit('fabric:removed', { fabricId: 'a' });
    s.emitter.emit('fabric:added', { fabricId: 'a' });
    s.succeed(s.start('a'));
    s.succeed(s.start('a'));
    expect(checker.violations.map((v) => v.invariant)).toEqual(['slot-once']);
  });

  it('re-bases slot names on clock:jump when the grid follows steps', () => {
    const follow = createInvariantChecker();
    const fixed = createInvariantChecker();
    const s = fake();
    follow.attach(s.emitter);
    fixed.attach(s.emitter, { slotNames: 'fixed' });
    s.succeed(s.start('a', { scheduledAt: 10_000, startedAt: 10_000 }));
    s.emitter.emit('clock:jump', { skewMs: -5000, at: 5000 });
    // slot 10_000 before the step is 5_000 after it: serving 10_000 again is a new slot
    s.succeed(s.start('a', { scheduledAt: 10_000, startedAt: 10_000 }));
    s.succeed(s.start('a', { scheduledAt: 5_000, startedAt: 5_000 }));
    expect(follow.violations.map((v) => v.invariant)).toEqual(['slot-once']);
    expect(fixed.violations.map((v) => v.invariant)).toEqual(['slot-once']);
    expect(follow.violations[0]!.detail).toMatch(/slot 5000/);
    expect(fixed.violations[0]!.detail).toMatch(/slot 10000/);
  });

  it('checks liveness on the given time base and can ignore invariants', () => {
    let now = 0;
    const checker = createInvariantChecker({ livenessClock: () => now, ignore: ['slot-once'] });
    const s = fake();
    checker.attach(s.emitter);
    now = 100;
    s.succeed(s.start('a'));
    s.succeed(s.start('a'));
    const running = s.start('b');
    expect(checker.checkLiveness(['a', 'b', 'c'], 50, 140).map((v) => v.fabricId)).toEqual(['c']);
    expect(checker.checkLiveness(['a'], 50, 151).map((v) => v.fabricId)).toEqual(['a']);
    expect(checker.isRunning('b')).toBe(true);
    s.succeed(running);
    expect(checker.isRunning('b')).toBe(false);
    expect(checker.violations.map((v) => v.invariant)).toEqual(['liveness', 'liveness']);
  });

  it('detaches', () => {
    const checker = createInvariantChecker();
    const s = fake();
    const detach = checker.attach(s.emitter);
    detach();
    s.start('a');
    s.start('a');
    expect(checker.runsOf('a')).toEqual([]);
  });
});
