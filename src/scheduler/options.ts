/**
 * The scheduler's options: their types (with defaults in JSDoc), one frozen defaults object, and
 * `normalizeOptions`, which checks everything at the door and returns a new, complete object.
 * Unknown keys are refused (a typo must not silently fall back to a default).
 */
import type { MeterProvider } from '@opentelemetry/api';
import type { Clock } from '../clock.js';
import { DEFAULT_QUEUE, durationOption, isQueueName, type MissedRunPolicy, type Phase } from '../definition.js';
import { InvalidOptionError } from '../errors.js';
import { InProcessSingleFlight, type SingleFlight } from '../single-flight.js';
import { MemoryStorage } from '../storage/memory.js';
import type { Storage } from '../storage/types.js';
import type { Executor } from './types.js';
import type { BreakerOptions, ResolvedBreaker } from './breaker.js';
import { systemClock } from '../clock.js';

export type { MissedRunPolicy, Phase } from '../definition.js';

/** What a wall-clock step does to the grid (see {@link SchedulerOptions.clockSteps}). */
export type ClockStepMode = 'move-grid' | 'keep-grid';

export interface RetryOptions {
  /**
   * Delay before the first retry, ms.
   * @default 1_000
   */
  initialDelay?: number;
  /**
   * Factor applied to the delay after each further failure.
   * @default 2
   */
  multiplier?: number;
  /**
   * Largest delay, ms. A retry is never scheduled at or past the fabric's next regular slot.
   * @default 60_000
   */
  maxDelay?: number;
}

export interface StopOptions {
  /**
   * What to do with syncs still running: `'wait'` for them (up to `drainTimeout`, then abort),
   * or `'abort'` them at once through `ctx.signal`.
   * @default the scheduler's `shutdown.inFlight` ('wait')
   */
  inFlight?: 'wait' | 'abort';
  /**
   * Longest wait for running syncs in `'wait'` mode, ms. `stop()` settles within this plus
   * `operationTimeout`, whatever the executor and the storage do.
   * @default the scheduler's `shutdown.drainTimeout` (30_000)
   */
  drainTimeout?: number;
}

/** A queue's rate limit (see {@link QueueOptions.rate}). */
export interface RateOptions {
  /** Runs allowed per `per` (also the largest burst): a positive integer. */
  runs: number;
  /** The period, ms or an ISO 8601 duration (`'PT1S'`, `'PT1M'`). */
  per: number | string;
}

/** One named queue (see {@link SchedulerOptions.queues}). */
export interface QueueOptions {
  /**
   * Most runs of this queue started per period, as a token bucket of `runs` tokens refilled one
   * every `per / runs` ms: a burst of up to `runs` starts at once, then one run per `per / runs`.
   * Runs beyond it wait in the backlog in due-time order (their lateness is reported as usual).
   * The bucket is per scheduler instance, i.e. per replica: N replicas sharing a storage start up
   * to N times the rate together.
   * @default undefined (no rate limit)
   * @example { runs: 10, per: 'PT1S' }
   */
  rate?: RateOptions;
  /**
   * Most runs of this queue at once.
   * @default Infinity
   */
  concurrency?: number;
  /**
   * When lanes are scarce (`maxConcurrentSyncs`), queues with a higher priority go first.
   * @default 0
   */
  priority?: number;
}

export interface SchedulerOptions {
  /** The host's sync function. */
  executor: Executor;
  /**
   * Time source and timers.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Where definitions and state live.
   * @default new MemoryStorage()
   */
  storage?: Storage;
  /**
   * Who may run a fabric right now.
   * @default new InProcessSingleFlight()
   */
  singleFlight?: SingleFlight;
  /**
   * Most executors running at once across all fabrics of this scheduler; a backlog drains in
   * due-time order.
   * @default Infinity
   */
  maxConcurrentSyncs?: number;
  /**
   * Slots missed while nothing ran (downtime, stalls): `'skip'` waits for the next slot,
   * `'once'` runs one catch-up at once, `'all'` runs up to `maxCatchUpRuns` back to back.
   * @default 'once'
   */
  missedRunPolicy?: MissedRunPolicy;
  /**
   * With `missedRunPolicy: 'all'`, most missed slots run per fabric; older ones count as missed.
   * @default 10
   */
  maxCatchUpRuns?: number;
  /**
   * Missed slots older than this (ms or ISO-8601 duration) are dropped, whatever the policy, and
   * reported as `sync:missed` with reason `'catch-up-window'`; a fabric's own `catchUpWindow`
   * overrides it. Infinity = no limit.
   * @default Infinity
   */
  catchUpWindow?: number | string;
  /**
   * Where interval fabrics' slots lie unless a definition says otherwise: `'immediate'` on a grid
   * from their first run, `'spread'` at `offset + k * syncInterval` from the epoch with a stable
   * per-id offset (see docs/operations.md). Written into each definition upserted here, so every
   * replica follows the same grid.
   * @default 'immediate'
   */
  phase?: Phase;
  /**
   * Start delay bound for fabrics that set no `jitter` (ms or ISO-8601 duration): each run starts
   * a deterministic amount in `[0, jitter)` after its slot, never at or past the next slot.
   * @default 0
   */
  jitter?: number | string;
  /**
   * `syncTimeout` for fabrics that do not set one, ms; 0 = no timeout.
   * @default 0
   */
  defaultSyncTimeout?: number | string;
  /**
   * Backoff after a failed run, or `false` to wait for the next slot.
   * @default { initialDelay: 1_000, multiplier: 2, maxDelay: 60_000 }
   */
  retry?: RetryOptions | false;
  /**
   * The failure breaker, or `false`. After `after` consecutive failed runs (retries count; no
   * retry is planned once it is open) a fabric is only probed, on slots of its grid, at waits
   * that double from two grid intervals up to `maxProbeInterval` (never more often than its grid);
   * its status stays `error` and `FabricStatus.breaker` shows the probing. The first success puts
   * it back on its grid. Derived from the stored failures and last attempt, so every replica
   * sharing the storage honours it. Manual runs (`syncNow`, `requestSync`) are not held back.
   * @default false
   * @example { after: 3, maxProbeInterval: 'PT5M' }
   */
  breaker?: BreakerOptions | false;
  /**
   * How `stop()` treats running syncs unless its own options say otherwise.
   * @default { inFlight: 'wait', drainTimeout: 30_000 }
   */
  shutdown?: StopOptions;
  /**
   * Lease asked of the single-flight for a run, ms; adapters extend it while the run lasts.
   * @default 30_000
   */
  lockTtl?: number;
  /**
   * Smallest wall-vs-monotonic disagreement treated as a wall-clock step, ms. Every step at
   * least this large emits `clock:jump`.
   * @default 1_000
   */
  clockJumpThreshold?: number;
  /**
   * What a wall-clock step (NTP, VM resume) does to the grid. Timers always run on monotonic
   * time, so a step never fires anything early or stalls anything. `'move-grid'`: the grid moves
   * with the step (slot times, stored anchors and timestamps follow the new wall clock).
   * `'keep-grid'`: the stored grid stays (other replicas sharing the storage follow it), and this
   * scheduler keeps naming slots on the time scale it had before the step.
   * @default 'move-grid' with a MemoryStorage (nothing else follows its grid), 'keep-grid' otherwise
   */
  clockSteps?: ClockStepMode;
  /**
   * Named queues. A fabric's runs wait in the queue its definition names (`queue`), each queue
   * bounded by its own `concurrency` (inside the scheduler-wide `maxConcurrentSyncs`); when lanes
   * are scarce the queue with the higher `priority` goes first, and within a priority the oldest
   * due run. A `'default'` queue always exists (unbounded unless configured here). Fabrics naming
   * another queue are refused with `InvalidFabricError`.
   * @default { default: { concurrency: Infinity, priority: 0 } }
   * @example { git: { concurrency: 1 }, fabric: { concurrency: 4, priority: 10 } }
   */
  queues?: Readonly<Record<string, QueueOptions>>;
  /**
   * How often this scheduler re-reads the shared control record (pauses and sync requests made
   * by other replicas or the `syncwheel` CLI), adopts fabrics other replicas defined, and looks
   * for stale `syncing` states left by dead replicas, ms; 0 turns this housekeeping off. Local
   * pauses always apply at once.
   * @default 5_000, or 0 with a `MemoryStorage` (nothing else can write to it)
   */
  housekeepingInterval?: number;
  /**
   * With a storage that has a change feed (`RedisStorage`), housekeeping reads only the feed;
   * every `fullScanInterval` it lists every record instead (repairing what a lost feed entry hid,
   * e.g. on Redis Cluster where a record and its feed entry are not written atomically, and
   * sweeping stale `syncing` states), ms; 0: only when the feed is reset. Ignored without a feed
   * (every pass is then a full listing).
   * @default 600_000 (10 minutes)
   */
  fullScanInterval?: number;
  /**
   * Longest wait for any one storage or single-flight call (read, write, delete, list, acquire,
   * release), ms. A call that takes longer is abandoned and reported as a `StorageError` (an
   * `error` event, or the rejection of the public method that made it); later calls for the same
   * fabric are not held up by it.
   * @default 10_000
   */
  operationTimeout?: number;
  /**
   * Runs kept per fabric in the storage's run history (`getFabricHistory`), newest first; older
   * ones are dropped as new ones are written (at most {@link MAX_HISTORY_SIZE}). Each entry is
   * written with the run's outcome, in the same storage write. 0 turns history off (nothing is
   * written). Ignored when the storage keeps no history (no `readHistory`).
   * @default 20
   */
  historySize?: number;
  /**
   * Where the OpenTelemetry instruments are created.
   * @default the global MeterProvider of `@opentelemetry/api` (a no-op unless the host installs an SDK)
   */
  meterProvider?: MeterProvider;
}

/** A queue after validation. */
export interface ResolvedQueue {
  readonly name: string;
  readonly concurrency: number;
  readonly priority: number;
  /** Token bucket: `runs` tokens, one back every `per / runs` ms; undefined when unlimited. */
  readonly rate: { readonly runs: number; readonly per: number } | undefined;
}

/** Every option filled in and checked. */
export interface ResolvedOptions {
  readonly executor: Executor;
  readonly clock: Clock;
  readonly storage: Storage;
  readonly singleFlight: SingleFlight;
  readonly maxConcurrentSyncs: number;
  readonly missedRunPolicy: MissedRunPolicy;
  readonly maxCatchUpRuns: number;
  readonly catchUpWindow: number;
  readonly phase: Phase;
  readonly jitter: number;
  readonly defaultSyncTimeout: number;
  readonly retry: Readonly<Required<RetryOptions>> | false;
  readonly breaker: ResolvedBreaker | false;
  readonly shutdown: Readonly<Required<StopOptions>>;
  readonly lockTtl: number;
  readonly clockJumpThreshold: number;
  readonly clockSteps: ClockStepMode;
  /** `'default'` first. */
  readonly queues: readonly ResolvedQueue[];
  readonly housekeepingInterval: number;
  readonly fullScanInterval: number;
  readonly operationTimeout: number;
  /** 0 when off, or when the storage keeps no history. */
  readonly historySize: number;
  readonly meterProvider: MeterProvider | undefined;
}

/** Largest `historySize` (and `getFabricHistory` limit). */
export const MAX_HISTORY_SIZE = 1_000;

export const DEFAULTS = Object.freeze({
  maxConcurrentSyncs: Number.POSITIVE_INFINITY,
  missedRunPolicy: 'once' as MissedRunPolicy,
  maxCatchUpRuns: 10,
  catchUpWindow: Number.POSITIVE_INFINITY,
  phase: 'immediate' as Phase,
  jitter: 0,
  defaultSyncTimeout: 0,
  retry: Object.freeze({ initialDelay: 1_000, multiplier: 2, maxDelay: 60_000 }),
  shutdown: Object.freeze({ inFlight: 'wait' as const, drainTimeout: 30_000 }),
  lockTtl: 30_000,
  clockJumpThreshold: 1_000,
  queue: Object.freeze({ concurrency: Number.POSITIVE_INFINITY, priority: 0, rate: undefined }),
  breaker: false as const,
  housekeepingInterval: 5_000,
  fullScanInterval: 600_000,
  operationTimeout: 10_000,
  historySize: 20,
});

const OPTION_KEYS: ReadonlySet<string> = new Set([
  'executor', 'clock', 'storage', 'singleFlight', 'maxConcurrentSyncs', 'missedRunPolicy', 'maxCatchUpRuns',
  'catchUpWindow', 'phase', 'jitter',
  'defaultSyncTimeout', 'retry', 'breaker', 'shutdown', 'lockTtl', 'clockJumpThreshold', 'clockSteps', 'queues',
  'housekeepingInterval', 'fullScanInterval', 'operationTimeout', 'meterProvider', 'historySize',
]);

/** Validates `createScheduler` options and returns a new, complete object. */
export function normalizeOptions(options: SchedulerOptions): ResolvedOptions {
  if (!isObject(options)) throw new InvalidOptionError('options', 'an object', options);
  refuseUnknownKeys(options, OPTION_KEYS, '');
  const o = options as SchedulerOptions;
  if (typeof o.executor !== 'function') throw new InvalidOptionError('executor', 'a function', o.executor);
  const clock = o.clock ?? systemClock;
  requireMethods('clock', clock, ['now', 'setTimeout', 'clearTimeout']);
  if (clock.monotonic !== undefined && typeof clock.monotonic !== 'function') throw new InvalidOptionError('clock.monotonic', 'a function or absent', clock.monotonic);
  const storage: Storage = o.storage ?? new MemoryStorage();
  requireMethods('storage', storage, ['get', 'list', 'write', 'delete']);
  const singleFlight: SingleFlight = o.singleFlight ?? new InProcessSingleFlight();
  requireMethods('singleFlight', singleFlight, ['acquire']);
  if (singleFlight.shouldRun !== undefined && typeof singleFlight.shouldRun !== 'function') {
    throw new InvalidOptionError('singleFlight.shouldRun', 'a function or absent', singleFlight.shouldRun);
  }
  const maxConcurrentSyncs = positiveCount('maxConcurrentSyncs', o.maxConcurrentSyncs, DEFAULTS.maxConcurrentSyncs);
  const missedRunPolicy = o.missedRunPolicy ?? DEFAULTS.missedRunPolicy;
  if (missedRunPolicy !== 'skip' && missedRunPolicy !== 'once' && missedRunPolicy !== 'all') {
    throw new InvalidOptionError('missedRunPolicy', "'skip', 'once' or 'all'", o.missedRunPolicy);
  }
  const maxCatchUpRuns = o.maxCatchUpRuns ?? DEFAULTS.maxCatchUpRuns;
  if (!Number.isSafeInteger(maxCatchUpRuns) || maxCatchUpRuns < 1) throw new InvalidOptionError('maxCatchUpRuns', 'a positive integer', o.maxCatchUpRuns);
  const phase = o.phase ?? DEFAULTS.phase;
  if (phase !== 'immediate' && phase !== 'spread') throw new InvalidOptionError('phase', "'immediate' or 'spread'", o.phase);
  const historySize = o.historySize ?? DEFAULTS.historySize;
  if (!Number.isSafeInteger(historySize) || historySize < 0 || historySize > MAX_HISTORY_SIZE) {
    throw new InvalidOptionError('historySize', `an integer from 0 to ${MAX_HISTORY_SIZE}`, o.historySize);
  }
  const clockSteps = o.clockSteps ?? (storage instanceof MemoryStorage ? 'move-grid' : 'keep-grid');
  if (clockSteps !== 'move-grid' && clockSteps !== 'keep-grid') throw new InvalidOptionError('clockSteps', "'move-grid' or 'keep-grid'", o.clockSteps);
  return {
    executor: o.executor,
    clock,
    storage,
    singleFlight,
    maxConcurrentSyncs,
    missedRunPolicy,
    maxCatchUpRuns,
    catchUpWindow: durationOption('catchUpWindow', o.catchUpWindow, DEFAULTS.catchUpWindow, { allowZero: true, allowInfinity: true }),
    phase,
    jitter: durationOption('jitter', o.jitter, DEFAULTS.jitter, { allowZero: true }),
    defaultSyncTimeout: durationOption('defaultSyncTimeout', o.defaultSyncTimeout, DEFAULTS.defaultSyncTimeout, { allowZero: true }),
    retry: normalizeRetry(o.retry),
    breaker: normalizeBreaker(o.breaker),
    shutdown: normalizeStop(o.shutdown, DEFAULTS.shutdown, 'shutdown'),
    lockTtl: durationOption('lockTtl', o.lockTtl, DEFAULTS.lockTtl),
    clockJumpThreshold: durationOption('clockJumpThreshold', o.clockJumpThreshold, DEFAULTS.clockJumpThreshold),
    clockSteps,
    queues: normalizeQueues(o.queues),
    housekeepingInterval: durationOption('housekeepingInterval', o.housekeepingInterval, storage instanceof MemoryStorage ? 0 : DEFAULTS.housekeepingInterval, { allowZero: true }),
    fullScanInterval: durationOption('fullScanInterval', o.fullScanInterval, DEFAULTS.fullScanInterval, { allowZero: true }),
    operationTimeout: durationOption('operationTimeout', o.operationTimeout, DEFAULTS.operationTimeout),
    historySize: typeof storage.readHistory === 'function' ? historySize : 0,
    meterProvider: o.meterProvider,
  };
}

function normalizeRetry(value: RetryOptions | false | undefined): Readonly<Required<RetryOptions>> | false {
  if (value === false) return false;
  const r = value ?? {};
  if (!isObject(r)) throw new InvalidOptionError('retry', 'an object or false', value);
  refuseUnknownKeys(r, new Set(['initialDelay', 'multiplier', 'maxDelay']), 'retry.');
  const multiplier = r.multiplier ?? DEFAULTS.retry.multiplier;
  if (typeof multiplier !== 'number' || !Number.isFinite(multiplier) || multiplier < 1) {
    throw new InvalidOptionError('retry.multiplier', 'a finite number >= 1', r.multiplier);
  }
  return Object.freeze({
    initialDelay: durationOption('retry.initialDelay', r.initialDelay, DEFAULTS.retry.initialDelay),
    multiplier,
    maxDelay: durationOption('retry.maxDelay', r.maxDelay, DEFAULTS.retry.maxDelay),
  });
}

function normalizeBreaker(value: BreakerOptions | false | undefined): ResolvedBreaker | false {
  if (value === undefined || value === false) return DEFAULTS.breaker;
  if (!isObject(value) || Array.isArray(value)) throw new InvalidOptionError('breaker', 'an object { after, maxProbeInterval } or false', value);
  refuseUnknownKeys(value, new Set(['after', 'maxProbeInterval']), 'breaker.');
  const after = value.after;
  if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 1) throw new InvalidOptionError('breaker.after', 'a positive integer', after);
  if (value.maxProbeInterval === undefined) throw new InvalidOptionError('breaker.maxProbeInterval', 'a positive duration (ms or ISO 8601)', undefined);
  return Object.freeze({ after, maxProbeInterval: durationOption('breaker.maxProbeInterval', value.maxProbeInterval, 0) });
}

function normalizeRate(name: string, value: unknown): ResolvedQueue['rate'] {
  if (value === undefined) return undefined;
  if (!isObject(value) || Array.isArray(value)) throw new InvalidOptionError(`queues.${name}.rate`, "an object { runs, per } (e.g. { runs: 10, per: 'PT1S' })", value);
  refuseUnknownKeys(value, new Set(['runs', 'per']), `queues.${name}.rate.`);
  const runs = value['runs'];
  if (typeof runs !== 'number' || !Number.isSafeInteger(runs) || runs < 1) throw new InvalidOptionError(`queues.${name}.rate.runs`, 'a positive integer', runs);
  if (value['per'] === undefined) throw new InvalidOptionError(`queues.${name}.rate.per`, "a positive duration (ms or ISO 8601, e.g. 'PT1S')", undefined);
  return Object.freeze({ runs, per: durationOption(`queues.${name}.rate.per`, value['per'], 0) });
}

function normalizeQueues(value: SchedulerOptions['queues']): ResolvedQueue[] {
  const out: ResolvedQueue[] = [{ name: DEFAULT_QUEUE, ...DEFAULTS.queue }];
  if (value === undefined) return out;
  if (!isObject(value) || Array.isArray(value)) throw new InvalidOptionError('queues', 'an object of queue name -> { concurrency, priority, rate }', value);
  for (const [name, q] of Object.entries(value)) {
    if (!isQueueName(name)) throw new InvalidOptionError('queues', 'keyed by non-empty queue names of at most 100 characters', name);
    if (!isObject(q)) throw new InvalidOptionError(`queues.${name}`, 'an object { concurrency?, priority? }', q);
    refuseUnknownKeys(q, new Set(['concurrency', 'priority', 'rate']), `queues.${name}.`);
    const concurrency = positiveCount(`queues.${name}.concurrency`, q.concurrency, DEFAULTS.queue.concurrency);
    const priority = q.priority ?? DEFAULTS.queue.priority;
    if (typeof priority !== 'number' || !Number.isFinite(priority)) throw new InvalidOptionError(`queues.${name}.priority`, 'a finite number', q.priority);
    const queue = { name, concurrency, priority, rate: normalizeRate(name, q.rate) };
    if (name === DEFAULT_QUEUE) out[0] = queue;
    else out.push(queue);
  }
  return out;
}

/** Validates `stop()` options (or the scheduler's `shutdown` option) against `defaults`. */
export function normalizeStop(options: StopOptions | undefined, defaults: Readonly<Required<StopOptions>>, name: string): Readonly<Required<StopOptions>> {
  if (options === undefined) return { ...defaults };
  if (!isObject(options)) throw new InvalidOptionError(name, 'an object', options);
  refuseUnknownKeys(options, new Set(['inFlight', 'drainTimeout']), `${name}.`);
  const inFlight = options.inFlight ?? defaults.inFlight;
  if (inFlight !== 'wait' && inFlight !== 'abort') throw new InvalidOptionError(`${name}.inFlight`, "'wait' or 'abort'", options.inFlight);
  return { inFlight, drainTimeout: durationOption(`${name}.drainTimeout`, options.drainTimeout, defaults.drainTimeout, { allowZero: true }) };
}

function positiveCount(name: string, value: unknown, fallback: number): number {
  const n = value ?? fallback;
  if (!(n === Number.POSITIVE_INFINITY || (typeof n === 'number' && Number.isSafeInteger(n) && n > 0))) {
    throw new InvalidOptionError(name, 'a positive integer or Infinity', value);
  }
  return n as number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

/** Throws `InvalidOptionError` naming the first key of `value` that is not in `known`. */
export function refuseUnknownKeys(value: object, known: ReadonlySet<string>, prefix: string): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new InvalidOptionError(`${prefix}${key}`, `absent (known options: ${[...known].join(', ')})`, (value as Record<string, unknown>)[key]);
  }
}

/** Checks that a port (`clock`, `storage`, `singleFlight`) has the methods the scheduler calls. */
function requireMethods(name: string, port: unknown, methods: readonly string[]): void {
  if (!isObject(port)) throw new InvalidOptionError(name, `an object with ${methods.join(', ')}`, port);
  for (const m of methods) {
    if (typeof port[m] !== 'function') throw new InvalidOptionError(`${name}.${m}`, 'a function', port[m]);
  }
}
