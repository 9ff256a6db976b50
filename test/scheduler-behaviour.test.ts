import { describe, expect, it } from 'vitest';
import {
  FabricDisabledError,
  InvalidFabricError,
  InvalidOptionError,
  MemoryStorage,
  SchedulerNotRunningError,
  SyncAbortedError,
  SyncTimeoutError,
  UnknownFabricError,
  createScheduler,
} from '../src/index.js';
import { createFakeClock } from '../src/testing.js';
import { T0, makeHarness, sleepOn } from './helpers/harness.js';

const MIN = 60_000;

describe('failures and retries', () => {
  it('records whatever the executor throws: Error, string, object, synchronous throw', async () => {
    const thrown: unknown[] = [new Error('boom'), 'plain string', { code: 42 }, 'sync'];
    let i = 0;
    const h = makeHarness({
      behaviour: (() => {
        const value = thrown[i++];
        if (value === 'sync') throw new TypeError('thrown synchronously');
        return Promise.reject(value);
      }) as never,
    });
    // make the executor itself synchronous for the 4th run
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 1000 });
    await h.scheduler.start();
    const messages: string[] = [];
    h.scheduler.on('sync:failed', (e) => messages.push(e.error.message));
    await h.clock.tickAsync(3000);
    expect(messages).toEqual(['boom', 'plain string', '{"code":42}', 'thrown synchronously']);
    const failed = h.eventsOf('sync:failed');
    expect(failed[1].error).toBeInstanceOf(Error);
    expect(failed[1].error.cause).toBe('plain string');
    const status = await h.scheduler.getFabricStatus('f');
    expect(status).toMatchObject({ status: 'error', lastError: 'thrown synchronously', consecutiveFailures: 4, lastSyncAt: null });
    await h.stop();
  });

  it('a truly synchronous executor that throws is caught too', async () => {
    const clock = createFakeClock({ now: T0 });
    const scheduler = createScheduler({
      clock,
      retry: false,
      executor: () => {
        throw new Error('sync boom');
      },
    });
    const failures: string[] = [];
    scheduler.on('sync:failed', (e) => failures.push(e.error.message));
    await scheduler.upsertFabric({ id: 'f', syncInterval: 1000 });
    await scheduler.start();
    await clock.tickAsync(2000);
    expect(failures).toEqual(['sync boom', 'sync boom', 'sync boom']);
    await scheduler.stop();
  });

  it('retries with capped exponential backoff that never reaches the next slot; success resets everything', async () => {
    let fail = true;
    const h = makeHarness({
      retry: { initialDelay: 1000, multiplier: 2, maxDelay: 8000 },
      behaviour: () => (fail ? Promise.reject(new Error('down')) : undefined),
    });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(MIN - 1);
    const starts = h.runsOf('f').map((r) => r.start - T0);
    // 0, +1 s, +2 s, +4 s, then capped at 8 s, never at or past the next slot (60 s)
    expect(starts.slice(0, 6)).toEqual([0, 1000, 3000, 7000, 15000, 23000]);
    expect(starts.at(-1)).toBeLessThan(MIN);
    const attempts = h.runsOf('f').map((r) => r.attempt);
    expect(attempts.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(h.runsOf('f').every((r) => r.scheduledAt === T0)).toBe(true);
    // a retry is on time when it starts at its backoff time, though it serves the 0 s slot
    expect(h.eventsOf('sync:started', 'f').map((e) => e.lateness)).toEqual(starts.map(() => 0));
    const failed = h.eventsOf('sync:failed', 'f');
    expect(failed[0].nextRetryAt).toBe(T0 + 1000);
    expect(failed.at(-1).nextRetryAt).toBeNull(); // the next try is the regular slot
    expect((await h.scheduler.getFabricStatus('f'))!.consecutiveFailures).toBe(starts.length);
    fail = false;
    await h.clock.tickAsync(1);
    const next = h.runsOf('f').at(-1)!;
    expect(next).toMatchObject({ start: T0 + MIN, scheduledAt: T0 + MIN, attempt: 1, trigger: 'schedule' });
    await h.clock.tickAsync(10);
    expect(await h.scheduler.getFabricStatus('f')).toMatchObject({ status: 'in_sync', consecutiveFailures: 0, lastError: null, lastSyncAt: T0 + MIN });
    await h.stop();
  });

  it('a failing fabric never stops its schedule (the hand-made chain died on the first exception)', async () => {
    const h = makeHarness({ behaviour: () => Promise.reject(new Error('always')) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(100_000);
    expect(h.runsOf('f')).toHaveLength(101);
    await h.stop();
  });
});

describe('timeouts', () => {
  it('syncTimeout aborts ctx.signal, fails the run, and frees the fabric even when the executor ignores the signal', async () => {
    const h = makeHarness({ behaviour: () => new Promise(() => {}) }); // hangs forever
    await h.scheduler.upsertFabric({ id: 'hang', syncInterval: MIN, syncTimeout: 5000 });
    await h.scheduler.start();
    await h.clock.tickAsync(4999);
    expect(h.runs[0]!.signal.aborted).toBe(false);
    await h.clock.tickAsync(1);
    expect(h.runs[0]!.signal.aborted).toBe(true);
    expect(h.runs[0]!.signal.reason).toBeInstanceOf(SyncTimeoutError);
    const failed = h.eventsOf('sync:failed', 'hang');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ reason: 'timeout', durationMs: 5000 });
    expect(await h.scheduler.getFabricStatus('hang')).toMatchObject({ status: 'error', lastError: 'Sync of fabric "hang" timed out after 5000 ms' });
    await h.clock.tickAsync(MIN - 5000);
    expect(h.runs).toHaveLength(2);
    expect(h.runs[1]!.start).toBe(T0 + MIN);
    await h.stop({ inFlight: 'abort' });
  });

  it('a rejection arriving after the timeout is ignored (no unhandled rejection, no second outcome)', async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 8000).then(() => Promise.reject(new Error('late'))) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN, syncTimeout: 2000 });
    await h.scheduler.start();
    await h.clock.tickAsync(10_000);
    expect(h.eventsOf('sync:failed', 'f').map((e) => e.reason)).toEqual(['timeout']);
    await h.stop();
  });

  it('defaultSyncTimeout applies to fabrics that set none; 0 means none', async () => {
    const h = makeHarness({ defaultSyncTimeout: 3000, behaviour: () => new Promise(() => {}) });
    await h.scheduler.upsertFabric({ id: 'd', syncInterval: MIN });
    await h.scheduler.upsertFabric({ id: 'none', syncInterval: MIN, syncTimeout: 0 });
    await h.scheduler.start();
    await h.clock.tickAsync(3000);
    expect(h.eventsOf('sync:failed').map((e) => e.fabricId)).toEqual(['d']);
    expect((await h.scheduler.getFabricStatus('none'))!.status).toBe('syncing');
    await h.stop({ inFlight: 'abort' });
  });
});

describe('status', () => {
  it('moves never_synced -> syncing -> in_sync and emits every change', async () => {
    const h = makeHarness();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    expect(await h.scheduler.getFabricStatus('f')).toMatchObject({ status: 'never_synced', lastSyncAt: null, lastAttemptAt: null });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    expect((await h.scheduler.getFabricStatus('f'))!.status).toBe('syncing');
    await h.clock.tickAsync(10);
    expect(await h.scheduler.getFabricStatus('f')).toMatchObject({ status: 'in_sync', lastSyncAt: T0 + 10, lastAttemptAt: T0, nextSyncAt: T0 + MIN });
    expect(h.eventsOf('status:changed').map((e) => `${e.from}>${e.to}`)).toEqual(['never_synced>syncing', 'syncing>in_sync']);
    await h.stop();
  });

  it('reads out_of_sync once the last success is older than twice the interval, also from a stopped scheduler on the same storage', async () => {
    const storage = new MemoryStorage();
    const clock = createFakeClock({ now: T0 });
    const h = makeHarness({ clock, storage });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(10);
    await h.stop();
    const reader = createScheduler({ clock, storage, executor: () => undefined }); // never started
    await clock.tickAsync(2 * MIN);
    expect((await reader.getFabricStatus('f'))!.status).toBe('in_sync');
    await clock.tickAsync(1);
    expect((await reader.getFabricStatus('f'))!.status).toBe('out_of_sync');
    expect((await reader.listFabrics()).map((f) => f.status)).toEqual(['out_of_sync']);
  });

  it('getFabricStatus of an unknown id is undefined; listFabrics is sorted by id', async () => {
    const h = makeHarness();
    expect(await h.scheduler.getFabricStatus('nope')).toBeUndefined();
    for (const id of ['c', 'a', 'b']) await h.scheduler.upsertFabric({ id, syncInterval: 1000 });
    expect((await h.scheduler.listFabrics()).map((f) => f.id)).toEqual(['a', 'b', 'c']);
  });
});

describe('concurrency', () => {
  it('bounds concurrent executors across 1,000 fabrics and still runs every fabric every cycle', async () => {
    const h = makeHarness({ maxConcurrentSyncs: 10, behaviour: (_f, _c, clock) => sleepOn(clock, 100) });
    for (let i = 0; i < 1000; i++) await h.scheduler.upsertFabric({ id: `f${String(i).padStart(4, '0')}`, syncInterval: MIN });
    const started = Date.now();
    await h.scheduler.start();
    await h.clock.tickAsync(3 * MIN - 1);
    expect(h.maxConcurrent).toBe(10);
    expect(h.overlaps).toEqual([]);
    // 1,000 runs × 100 ms / 10 lanes = 10 s per cycle: every fabric runs once per cycle
    for (let i = 0; i < 1000; i++) expect(h.runsOf(`f${String(i).padStart(4, '0')}`)).toHaveLength(3);
    // the backlog drained in due-time (then arrival) order
    const firstCycle = h.runs.slice(0, 1000).map((r) => r.id);
    expect(firstCycle).toEqual([...firstCycle].sort());
    expect(Date.now() - started).toBeLessThan(20_000);
    await h.stop();
  });

  it('no fabric starves under overload; late slots are served as one catch-up, not piled up', async () => {
    const h = makeHarness({ maxConcurrentSyncs: 1, behaviour: (_f, _c, clock) => sleepOn(clock, 400) });
    for (const id of ['a', 'b', 'c', 'd', 'e']) await h.scheduler.upsertFabric({ id, syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(60_000);
    const counts = ['a', 'b', 'c', 'd', 'e'].map((id) => h.runsOf(id).length);
    // capacity is 2.5 runs per second for 5 fabrics wanting 5: everyone gets about half
    for (const c of counts) expect(c).toBeGreaterThanOrEqual(25);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
    expect(h.maxConcurrent).toBe(1);
    expect(h.eventsOf('sync:missed').length).toBeGreaterThan(0);
    await h.stop();
  });
});

describe('single-flight in one process', () => {
  it('a manual sync while the fabric runs is skipped, never overlapped; the grid is kept', async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 5000) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1000);
    const skipped = await h.scheduler.syncNow('f');
    expect(skipped).toMatchObject({ status: 'skipped', reason: 'in-flight', trigger: 'manual' });
    await h.clock.tickAsync(20_000);
    const manual = h.scheduler.syncNow('f');
    await h.clock.tickAsync(5000);
    expect(await manual).toMatchObject({ status: 'succeeded', trigger: 'manual', durationMs: 5000 });
    await h.clock.tickAsync(MIN - 26_000);
    expect(h.runs.map((r) => [r.start - T0, r.trigger])).toEqual([
      [0, 'schedule'],
      [21_000, 'manual'],
      [MIN, 'schedule'],
    ]);
    expect(h.overlaps).toEqual([]);
    await h.stop();
  });

  it('syncNow refuses unknown ids, disabled fabrics and a scheduler that is not running', async () => {
    const h = makeHarness();
    await expect(h.scheduler.syncNow('x')).rejects.toBeInstanceOf(SchedulerNotRunningError);
    await h.scheduler.start();
    const err = await h.scheduler.syncNow('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownFabricError);
    expect((err as UnknownFabricError).fabricId).toBe('nope');
    await h.scheduler.upsertFabric({ id: 'off', syncInterval: 1000, enabled: false });
    await expect(h.scheduler.syncNow('off')).rejects.toBeInstanceOf(FabricDisabledError);
    await h.stop();
  });
});

describe('definition changes take effect at once', () => {
  it('a new interval re-anchors on the last slot served', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(65_000); // runs at 0 and 60 s
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 10_000 });
    await h.clock.tickAsync(30_000);
    expect(h.runs.map((r) => r.start - T0)).toEqual([0, 60_000, 70_000, 80_000, 90_000]);
    // shortening to an interval already overdue runs at once
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 2000 });
    await h.clock.tickAsync(0);
    expect(h.runs.at(-1)!.start).toBe(T0 + 95_000);
    await h.clock.tickAsync(2000);
    expect(h.runs.at(-1)!.start).toBe(T0 + 97_000);
    await h.stop();
  });

  it('disabling aborts a running sync and cancels the schedule; enabling syncs at once', async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 5000) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1000);
    const status = await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN, enabled: false });
    expect(status).toMatchObject({ status: 'disabled', nextSyncAt: null, enabled: false });
    expect(h.runs[0]!.signal.aborted).toBe(true);
    expect(h.runs[0]!.signal.reason).toBeInstanceOf(SyncAbortedError);
    await h.clock.tickAsync(10 * MIN);
    expect(h.runs).toHaveLength(1);
    expect((await h.scheduler.getFabricStatus('f'))!.status).toBe('disabled');
    expect(h.clock.countTimers()).toBe(0);
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN, enabled: true });
    await h.clock.tickAsync(0);
    expect(h.runs).toHaveLength(2);
    expect(h.runs[1]!.start).toBe(T0 + 1000 + 10 * MIN);
    expect(h.eventsOf('status:changed').map((e) => `${e.from}>${e.to}`)).toEqual([
      'never_synced>syncing',
      'syncing>disabled',
      'disabled>never_synced',
      'never_synced>syncing',
    ]);
    await h.stop();
  });

  it('removing cancels the schedule, aborts a running sync and deletes the record', async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 5000) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.upsertFabric({ id: 'g', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1000);
    expect(await h.scheduler.removeFabric('f')).toBe(true);
    expect(await h.scheduler.removeFabric('f')).toBe(false);
    expect(h.runsOf('f')[0]!.signal.aborted).toBe(true);
    expect(await h.scheduler.getFabricStatus('f')).toBeUndefined();
    await h.clock.tickAsync(5 * MIN);
    expect(h.runsOf('f')).toHaveLength(1);
    expect(h.runsOf('g')).toHaveLength(6);
    expect(h.storage instanceof MemoryStorage && h.storage.size).toBe(1);
    await h.stop();
  });
});

describe('bad input', () => {
  const cases: Array<[string, unknown, string]> = [
    ['non-object definition', 'fab', 'Expected fabric definition to be an object, got string "fab"'],
    ['null definition', null, 'Expected fabric definition to be an object, got null'],
    ['array definition', [], 'Expected fabric definition to be an object, got an array'],
    ['missing id', { syncInterval: 1000 }, 'Expected id to be a non-empty string, got undefined'],
    ['empty id', { id: '', syncInterval: 1000 }, 'Expected id to be a non-empty string, got string ""'],
    ['numeric id', { id: 7, syncInterval: 1000 }, 'Expected id to be a non-empty string, got 7'],
    ['huge id', { id: 'x'.repeat(1_000_000), syncInterval: 1000 }, 'Expected id to be a string of at most 1024 characters'],
    ['interval 0', { id: 'f', syncInterval: 0 }, 'Expected syncInterval to be a positive integer number of ms or an ISO-8601 duration such as "PT1M", got 0 (fabric "f")'],
    ['negative interval', { id: 'f', syncInterval: -5 }, 'got -5'],
    ['NaN interval', { id: 'f', syncInterval: Number.NaN }, 'got NaN'],
    ['Infinity interval', { id: 'f', syncInterval: Number.POSITIVE_INFINITY }, 'got Infinity'],
    ['fractional interval', { id: 'f', syncInterval: 1.5 }, 'got 1.5'],
    ['unparsable interval', { id: 'f', syncInterval: 'every minute' }, 'got string "every minute"'],
    ['missing interval', { id: 'f' }, 'Expected syncInterval'],
    ['negative timeout', { id: 'f', syncInterval: 1000, syncTimeout: -1 }, 'Expected syncTimeout to be a non-negative integer number of ms (0 = none) or an ISO-8601 duration, got -1'],
    ['non-boolean enabled', { id: 'f', syncInterval: 1000, enabled: 'yes' }, 'Expected enabled to be a boolean, got string "yes"'],
    ['typo field', { id: 'f', syncIntervall: 1000, syncInterval: 1000 }, 'Expected syncIntervall to be absent'],
  ];
  it.each(cases)('refuses %s with InvalidFabricError and changes nothing', async (_name, input, message) => {
    const h = makeHarness();
    await h.scheduler.upsertFabric({ id: 'keep', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    const error = await h.scheduler.upsertFabric(input as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFabricError);
    expect((error as Error).message).toContain(message);
    expect((await h.scheduler.listFabrics()).map((f) => f.id)).toEqual(['keep']);
    await h.clock.tickAsync(3000);
    expect(h.runsOf('keep')).toHaveLength(4);
    await h.stop();
  });

  it('refuses bad scheduler options at construction', () => {
    const clock = createFakeClock();
    expect(() => createScheduler({} as never)).toThrow(InvalidOptionError);
    expect(() => createScheduler({ clock, executor: () => undefined, maxConcurrentSyncs: 0 })).toThrow('Expected maxConcurrentSyncs to be a positive integer or Infinity, got 0');
    expect(() => createScheduler({ clock, executor: () => undefined, missedRunPolicy: 'some' as never })).toThrow(InvalidOptionError);
    expect(() => createScheduler({ clock, executor: () => undefined, retry: { initialDelay: -1 } })).toThrow('retry.initialDelay');
  });
});

describe('listeners and shutdown', () => {
  it('a listener that throws breaks neither the scheduler nor the other listeners', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    const seen: number[] = [];
    h.scheduler.on('sync:started', () => {
      throw new Error('listener bug');
    });
    h.scheduler.on('sync:started', (e) => seen.push(e.scheduledAt));
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(5000);
    expect(seen).toHaveLength(6);
    const errors = h.eventsOf('error');
    expect(errors).toHaveLength(6);
    expect(errors[0]).toMatchObject({ operation: 'listener', fabricId: 'f' });
    expect(errors[0].error.message).toBe('listener bug');
    await h.stop();
  });

  it("stop() in 'wait' mode lets running syncs finish, clears every timer, and nothing runs afterwards", async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 3000) });
    for (let i = 0; i < 5; i++) await h.scheduler.upsertFabric({ id: `f${i}`, syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(500);
    let stopped = false;
    const stopping = h.scheduler.stop().then(() => (stopped = true));
    await h.clock.tickAsync(2499);
    expect(stopped).toBe(false);
    await h.clock.tickAsync(1);
    await stopping;
    expect(h.eventsOf('sync:succeeded')).toHaveLength(5);
    expect(h.runs.every((r) => !r.signal.aborted)).toBe(true);
    expect(h.clock.countTimers()).toBe(0);
    expect((await h.scheduler.listFabrics()).every((f) => f.status === 'in_sync')).toBe(true);
    await h.clock.tickAsync(60_000);
    expect(h.runs).toHaveLength(5);
    // nobody synced them since: they honestly read out_of_sync now
    expect((await h.scheduler.listFabrics()).every((f) => f.status === 'out_of_sync')).toBe(true);
  });

  it("stop() in 'abort' mode aborts at once, even executors that ignore the signal; their fabrics are not left 'syncing'", async () => {
    const h = makeHarness({ behaviour: () => new Promise(() => {}) });
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: 1000 });
    await h.scheduler.upsertFabric({ id: 'b', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(100);
    await h.scheduler.stop({ inFlight: 'abort' });
    expect(h.runs.every((r) => r.signal.aborted && r.signal.reason instanceof SyncAbortedError)).toBe(true);
    expect(h.clock.countTimers()).toBe(0);
    expect((await h.scheduler.listFabrics()).map((f) => f.status)).toEqual(['never_synced', 'never_synced']);
    expect(h.eventsOf('sync:failed').map((e) => e.reason)).toEqual(['aborted', 'aborted']);
  });

  it('the drain timeout bounds the wait, then aborts', async () => {
    const h = makeHarness({ behaviour: () => new Promise(() => {}) });
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    let stopped = false;
    const p = h.scheduler.stop({ drainTimeout: 5000 }).then(() => (stopped = true));
    await h.clock.tickAsync(4999);
    expect(stopped).toBe(false);
    await h.clock.tickAsync(1);
    await p;
    expect(h.runs[0]!.signal.aborted).toBe(true);
  });

  it('stop() before start and twice is harmless; a stopped scheduler can start again', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    await h.scheduler.stop();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    await Promise.all([h.scheduler.stop(), h.scheduler.stop()]);
    await h.scheduler.stop();
    await h.clock.tickAsync(5000);
    expect(h.runs).toHaveLength(1);
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    expect(h.runs).toHaveLength(2); // one catch-up for the missed slots
    await h.stop();
  });

  it('stop() during a storm of runs leaves nothing running and no timer armed', async () => {
    const h = makeHarness({ maxConcurrentSyncs: 3, behaviour: (_f, _c, clock) => sleepOn(clock, 50) });
    for (let i = 0; i < 200; i++) await h.scheduler.upsertFabric({ id: `f${i}`, syncInterval: 100 + i });
    await h.scheduler.start();
    await h.clock.tickAsync(777);
    expect(h.scheduler.backlogSize).toBeGreaterThan(0);
    await h.stop();
    expect(h.scheduler.inFlightCount).toBe(0);
    expect(h.scheduler.backlogSize).toBe(0);
    expect(h.clock.countTimers()).toBe(0);
    const count = h.runs.length;
    await h.clock.tickAsync(10_000);
    expect(h.runs.length).toBe(count);
  });
});

describe('several schedulers on one storage', () => {
  it('a fabric another scheduler already stored is scheduled by this one when its host upserts it after start()', async () => {
    const storage = new MemoryStorage();
    const clock = createFakeClock({ now: T0 });
    const other = makeHarness({ clock, storage, behaviour: () => undefined });
    const late = makeHarness({ clock, storage, behaviour: () => undefined });
    await late.scheduler.start();
    await other.scheduler.upsertFabric({ id: 'later', syncInterval: MIN }); // stored after late started
    await late.scheduler.upsertFabric({ id: 'later', syncInterval: MIN }); // same definition, from late's host
    await clock.tickAsync(2 * MIN);
    expect(late.runsOf('later').map((r) => r.start)).toEqual([T0, T0 + MIN, T0 + 2 * MIN]);
    await late.stop();
  });
});

describe('following the shared storage', () => {
  it('a scheduler adopts fabrics and definition changes another scheduler wrote, within one housekeeping interval', async () => {
    const storage = new MemoryStorage();
    const clock = createFakeClock({ now: T0 });
    const a = makeHarness({ clock, storage, housekeepingInterval: 1000, behaviour: () => undefined });
    const b = makeHarness({ clock, storage, housekeepingInterval: 1000, behaviour: () => undefined });
    await a.scheduler.start();
    await b.scheduler.start();
    await a.scheduler.upsertFabric({ id: 'x', syncInterval: MIN }); // b's host never defines it
    await clock.tickAsync(1000);
    await a.stop(); // from now on only b can run it
    await clock.tickAsync(2 * MIN);
    expect(b.runsOf('x').map((r) => r.scheduledAt)).toEqual([T0 + MIN, T0 + 2 * MIN]);
    // a new interval written elsewhere (a stopped scheduler's host) reaches b too
    const c = makeHarness({ clock, storage, behaviour: () => undefined });
    await c.scheduler.upsertFabric({ id: 'x', syncInterval: 10_000 });
    await clock.tickAsync(1000 + 10_000);
    expect(b.runsOf('x').at(-1)!.scheduledAt).toBe(T0 + 2 * MIN + 10_000);
    await b.stop();
  });
});
