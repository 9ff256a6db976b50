/**
 * Shared setup for the regression tests of issue 9. Public API only: `src/index.js` and
 * `src/testing.js`. Every wait is on the fake clock; the only real-time waits are guards that
 * turn a deadlock into a failure instead of a hung test.
 */
import {
  createScheduler,
  MemoryStorage,
  type FabricRecord,
  type FabricWrite,
  type Scheduler,
  type SchedulerEvents,
  type SchedulerOptions,
  type Storage,
  type SyncContext,
  type Fabric,
  type WriteResult,
} from '../../src/index.js';
import { createFakeClock, type FakeClock } from '../../src/testing.js';

export const T0 = Date.parse('2026-03-01T00:00:00Z');
export const SECOND = 1_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** Waits `ms` on the fake clock. */
export function sleepOn(clock: FakeClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** A promise that never settles (a storage or executor that never answers). */
export function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/** One executor call as the executor saw it. */
export interface Call {
  id: string;
  /** Wall clock at the call. */
  at: number;
  /** Monotonic clock at the call (elapsed time, unaffected by wall steps). */
  mono: number;
  ctx: SyncContext;
  fabric: Fabric;
}

type EventName = keyof SchedulerEvents;
type Payload<E extends EventName> = Parameters<SchedulerEvents[E]>[0];
/** An event as recorded, with the monotonic time it was seen at. */
export interface Seen<E extends EventName = EventName> {
  name: E;
  payload: Payload<E>;
  mono: number;
}

const EVENT_NAMES: readonly EventName[] = [
  'status:changed', 'sync:started', 'sync:succeeded', 'sync:failed', 'sync:skipped', 'sync:missed',
  'fabric:added', 'fabric:updated', 'fabric:removed', 'clock:jump', 'state:repaired', 'error',
];

/** Records every event of `scheduler` with the monotonic time it was emitted at. */
export function recordEvents(scheduler: Scheduler, clock: FakeClock) {
  const seen: Seen[] = [];
  for (const name of EVENT_NAMES) {
    scheduler.on(name, ((payload: never) => seen.push({ name, payload, mono: clock.monotonic() })) as never);
  }
  return {
    seen,
    /** Payloads of `name` (for `fabricId` only, when given). */
    of<E extends EventName>(name: E, fabricId?: string): Array<Payload<E> & { mono: number }> {
      return seen
        .filter((e) => e.name === name && (fabricId === undefined || (e.payload as { fabricId?: string }).fabricId === fabricId))
        .map((e) => ({ ...(e.payload as object), mono: e.mono }) as Payload<E> & { mono: number });
    },
  };
}

/** What a test run's executor does (default: 10 ms of work on the fake clock). */
export type Work = (fabric: Fabric, ctx: SyncContext, clock: FakeClock) => unknown;

export interface SetupOptions extends Partial<Omit<SchedulerOptions, 'executor'>> {
  work?: Work;
  /** Extra scheduler options the current types may not declare yet (e.g. `operationTimeout`). */
  extra?: Record<string, unknown>;
}

/** A scheduler on a fake clock (at `T0` unless a clock is given) whose executor logs its calls. */
export function setup(options: SetupOptions = {}) {
  const { work, extra, ...rest } = options;
  const clock = (rest.clock as FakeClock | undefined) ?? createFakeClock({ now: T0 });
  const storage = rest.storage ?? new MemoryStorage();
  const calls: Call[] = [];
  const doWork: Work = work ?? ((_f, _c, c) => sleepOn(c, 10));
  const scheduler = createScheduler({
    ...rest,
    ...extra,
    clock,
    storage,
    executor: (fabric, ctx) => {
      calls.push({ id: fabric.id, at: clock.now(), mono: clock.monotonic(), ctx, fabric });
      return doWork(fabric, ctx, clock);
    },
  } as SchedulerOptions);
  const events = recordEvents(scheduler, clock);
  return { clock, storage, scheduler, calls, events, callsOf: (id: string) => calls.filter((c) => c.id === id) };
}

/** The outcome of a promise observed without awaiting it. */
export function observe<T>(promise: Promise<T>) {
  const state: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    (error: unknown) => Object.assign(state, { settled: true, error }),
  );
  return state;
}

/**
 * Advances the fake clock in steps of `step` ms, at most `limit` ms in all, until `done()` holds.
 * Returns the fake ms it took, or `Infinity` when `done()` never held.
 */
export async function tickUntil(clock: FakeClock, done: () => boolean, limit: number, step = 100): Promise<number> {
  await clock.flush();
  let elapsed = 0;
  while (!done()) {
    if (elapsed >= limit) return Number.POSITIVE_INFINITY;
    const ms = Math.min(step, limit - elapsed);
    await clock.tickAsync(ms);
    await clock.flush();
    elapsed += ms;
  }
  return elapsed;
}

/**
 * Advances the fake clock by `total` ms in growing steps (1 ms, 10 ms, … up to `maxStep`),
 * stopping early when `stop()` holds, so a timer that fires every millisecond is seen after a
 * few hundred firings instead of exhausting the fake clock's loop limit. Returns the ms advanced.
 */
export async function tickGrowing(clock: FakeClock, total: number, stop: () => boolean, maxStep = DAY): Promise<number> {
  let elapsed = 0;
  let step = 1;
  while (elapsed < total && !stop()) {
    const ms = Math.min(step, total - elapsed);
    await clock.tickAsync(ms);
    elapsed += ms;
    step = Math.min(step * 10, maxStep);
  }
  return elapsed;
}

/** Resolves to `'settled'` or `'timed out'` after at most `ms` of real time (a deadlock guard). */
export async function withinRealTime(promise: Promise<unknown>, ms: number): Promise<'settled' | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => resolve('timed out'), ms);
  });
  try {
    return await Promise.race([promise.then(() => 'settled' as const, () => 'settled' as const), guard]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Collects unhandled rejections while `body` runs. The test runner's own handlers are set aside
 * meanwhile, so a rejection fails the test's assertion rather than the whole run.
 */
export async function collectUnhandled(body: () => Promise<void>): Promise<unknown[]> {
  const reasons: unknown[] = [];
  const previous = process.listeners('unhandledRejection');
  process.removeAllListeners('unhandledRejection');
  const onRejection = (reason: unknown) => reasons.push(reason);
  process.on('unhandledRejection', onRejection);
  try {
    await body();
    // unhandled rejections are reported after the microtask queue drains
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', onRejection);
    for (const listener of previous) process.on('unhandledRejection', listener as (...args: unknown[]) => void);
  }
  return reasons;
}

/** Storage methods a test may replace; each receives the wrapped MemoryStorage. */
export interface StorageOverrides {
  get?(inner: MemoryStorage, id: string): Promise<FabricRecord | undefined>;
  list?(inner: MemoryStorage): Promise<{ records: FabricRecord[]; corrupt: never[] }>;
  write?(inner: MemoryStorage, id: string, value: FabricWrite, expectedVersion: number | null): WriteResult | Promise<WriteResult>;
  delete?(inner: MemoryStorage, id: string, expectedVersion?: number): Promise<boolean>;
}

/**
 * A storage that is not a `MemoryStorage` (so the scheduler treats it as shared) and passes every
 * call to `inner`, unless `overrides` replaces it. Counts calls per method.
 */
export function passThroughStorage(inner = new MemoryStorage(), overrides: StorageOverrides = {}) {
  const count = { get: 0, list: 0, write: 0, delete: 0 };
  const storage: Storage = {
    get: (id) => {
      count.get++;
      return overrides.get ? overrides.get(inner, id) : inner.get(id);
    },
    list: () => {
      count.list++;
      return overrides.list ? overrides.list(inner) : inner.list();
    },
    write: (id, value, expectedVersion) => {
      count.write++;
      return overrides.write ? overrides.write(inner, id, value, expectedVersion) : inner.write(id, value, expectedVersion);
    },
    delete: (id, expectedVersion) => {
      count.delete++;
      return overrides.delete ? overrides.delete(inner, id, expectedVersion) : inner.delete(id, expectedVersion);
    },
  };
  return { storage, inner, count };
}

/** Asserts nothing; resolves `promise` or gives up after ticking `limit` fake ms (cleanup). */
export async function settleOrAbandon(clock: FakeClock, promise: Promise<unknown>, limit = 60_000): Promise<void> {
  const state = observe(promise);
  await tickUntil(clock, () => state.settled, limit, 1_000);
}

/**
 * `fake`, except that its `now()` throws once it has been read `limit` times: a scheduler that
 * spins in microtasks (never yielding to a timer, so no real-time guard can fire) is stopped
 * there and the test can report it. `tripped()` says whether that happened.
 */
export function spinBreaker(fake: FakeClock, limit: number): FakeClock & { tripped(): boolean } {
  let reads = 0;
  return {
    ...fake,
    now: () => {
      if (++reads > limit) throw new Error(`spin: clock.now() read more than ${limit} times`);
      return fake.now();
    },
    tripped: () => reads > limit,
  };
}
