/**
 * The scheduler's options: their types (options-types.ts, with defaults in JSDoc), one frozen
 * defaults object, and `normalizeOptions`, which checks everything at the door and returns a new,
 * complete object. Unknown keys are refused (a typo must not silently fall back to a default).
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

export type { ClockStepMode, QueueOptions, RateOptions, RetryOptions, SchedulerOptions, StopOptions } from './options-types.js';
import type { ClockStepMode, RetryOptions, SchedulerOptions, StopOptions } from './options-types.js';

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
