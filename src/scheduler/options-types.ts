/**
 * The scheduler's option types, with their defaults in JSDoc (validated by `normalizeOptions` in
 * options.ts, which re-exports them).
 */
import type { MeterProvider } from '@opentelemetry/api';
import type { Clock } from '../clock.js';
import type { MissedRunPolicy, Phase } from '../definition.js';
import type { SingleFlight } from '../single-flight.js';
import type { Storage } from '../storage/types.js';
import type { BreakerOptions } from './breaker.js';
import type { Executor } from './types.js';

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
