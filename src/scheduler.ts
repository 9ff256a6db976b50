import { EventEmitter } from 'eventemitter3';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { DEFAULT_QUEUE, durationOption, isQueueName, normalizeFabric, type Fabric, type FabricDefinition } from './definition.js';
import {
  CorruptStateError,
  FabricDisabledError,
  InvalidOptionError,
  SchedulerNotRunningError,
  StorageError,
  SyncAbortedError,
  SyncTimeoutError,
  UnknownFabricError,
  errorMessage,
  toError,
} from './errors.js';
import type {
  FailureReason,
  MissedReason,
  PauseChangedEvent,
  PauseScope,
  SchedulerEvents,
  SkipReason,
  StateIssueKind,
  SyncFailedEvent,
  SyncMissedEvent,
  SyncResult,
  SyncSkippedEvent,
  SyncStartedEvent,
  SyncTrigger,
} from './events.js';
import { CONTROL_RECORD_ID, emptyControl, loadControl, updateControl, type ControlData } from './ops/control.js';
import { InProcessSingleFlight, type Lease, type SingleFlight } from './single-flight.js';
import { InvalidFabricError } from './errors.js';
import { OtelInstruments, RunStats, sumCounts, type MetricsSnapshot, type QueueMetrics } from './metrics.js';
import type { MeterProvider } from '@opentelemetry/api';
import { assertTransition, effectiveStatus, restingStatus, type SyncStatus } from './status.js';
import { MemoryStorage } from './storage/memory.js';
import { initialState, type FabricRecord, type FabricState, type Storage } from './storage/types.js';
import { TimingWheel, type WheelEntry } from './wheel.js';
import { DueQueue } from './due-queue.js';

/** What the executor receives besides the fabric. */
export interface SyncContext {
  /** Aborted on timeout, lock loss, shutdown (abort mode), removal or disabling. */
  readonly signal: AbortSignal;
  /** The grid slot served, epoch ms (the request time for a manual run). */
  readonly scheduledAt: number;
  /** 1 for the first try of a slot, then 2, 3… for its retries. */
  readonly attempt: number;
  /** Strictly increasing per fabric across every scheduler sharing the storage. */
  readonly fencingToken: number;
  readonly trigger: SyncTrigger;
}

/** The host's sync function. Whatever it throws (or rejects with) fails the run. */
export type Executor = (fabric: Fabric, ctx: SyncContext) => unknown;

/** What happens to slots that came due while nothing could serve them. */
export type MissedRunPolicy = 'skip' | 'once' | 'all';

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
   * Longest wait for running syncs in `'wait'` mode, ms.
   * @default the scheduler's `shutdown.drainTimeout` (30_000)
   */
  drainTimeout?: number;
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
   * Smallest wall-vs-monotonic disagreement treated as a wall-clock step, ms.
   * @default 1_000
   */
  clockJumpThreshold?: number;
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
   * by other replicas or the `syncwheel` CLI) and looks for stale `syncing` states left by dead
   * replicas, ms; 0 turns this housekeeping off. Local pauses always apply at once.
   * @default 5_000, or 0 with a `MemoryStorage` (nothing else can write to it)
   */
  housekeepingInterval?: number;
  /**
   * Where the OpenTelemetry instruments are created.
   * @default the global MeterProvider of `@opentelemetry/api` (a no-op unless the host installs an SDK)
   */
  meterProvider?: MeterProvider;
}

/** One named queue (see {@link SchedulerOptions.queues}). */
export interface QueueOptions {
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

/** What {@link Scheduler.pause} and {@link Scheduler.resume} apply to (nothing: the whole scheduler). */
export type PauseTarget = { queue: string } | { fabric: string };

/** Options of {@link Scheduler.validate} and {@link Scheduler.repair}. */
export interface ValidateOptions {
  /**
   * Every fabric id the host defines; stored records for other ids are reported as
   * `'undefined-fabric'` (and deleted by `repair()`).
   * @default undefined (not checked)
   */
  definedIds?: Iterable<string>;
}

/** One problem found in stored state. */
export interface StateIssue {
  fabricId: string;
  kind: StateIssueKind;
  /** What is wrong, in words. */
  detail: string;
  /** Whether `repair()` can fix it. */
  repairable: boolean;
  /** Whether this call fixed it (always false from `validate()`). */
  repaired: boolean;
}

/** What {@link Scheduler.validate} and {@link Scheduler.repair} return. */
export interface StateReport {
  checkedAt: number;
  /** Readable fabric records checked. */
  fabrics: number;
  issues: StateIssue[];
}

/** A fabric as readers see it. */
export interface FabricStatus {
  id: string;
  status: SyncStatus;
  /** Last successful sync, epoch ms. */
  lastSyncAt: number | null;
  lastAttemptAt: number | null;
  /** Next planned run (a retry or the next slot), epoch ms; null when disabled or not planned. */
  nextSyncAt: number | null;
  lastError: string | null;
  consecutiveFailures: number;
  syncInterval: number;
  enabled: boolean;
  /** The queue its runs wait in. */
  queue: string;
  /** Paused itself, or through its queue or the whole scheduler (as this scheduler knows it). */
  paused: boolean;
  /** Start minus slot time of the last run this scheduler started, ms (null if none). */
  lastLateness: number | null;
}

const DEFAULTS = Object.freeze({
  maxConcurrentSyncs: Number.POSITIVE_INFINITY,
  missedRunPolicy: 'once' as MissedRunPolicy,
  maxCatchUpRuns: 10,
  defaultSyncTimeout: 0,
  retry: Object.freeze({ initialDelay: 1_000, multiplier: 2, maxDelay: 60_000 }),
  shutdown: Object.freeze({ inFlight: 'wait' as const, drainTimeout: 30_000 }),
  lockTtl: 30_000,
  clockJumpThreshold: 1_000,
  queue: Object.freeze({ concurrency: Number.POSITIVE_INFINITY, priority: 0 }),
  housekeepingInterval: 5_000,
});

/** The package version reported to OpenTelemetry. */
const VERSION = '0.1.0';

const CAS_ATTEMPTS = 16;

/** A run waiting for its turn or in flight. */
interface Run {
  readonly rt: Runtime;
  scheduledAt: number;
  trigger: SyncTrigger;
  attempt: number;
  /** When the run was due (the slot; a retry's backoff time; a manual request's time): lateness is measured from it, and the backlog drains in its order. */
  readonly queuedAt: number;
  /** The queue it waits and runs in (fixed when the run is made). */
  readonly queue: Queue;
  /** `syncNow` callers waiting for the outcome (allocated only for them). */
  waiters?: Array<(result: SyncResult) => void>;
  /** Created on first read of `ctx.signal` (an AbortController costs more than a whole run otherwise). */
  controller?: AbortController;
  /** Why the run's signal was aborted, kept for a signal first read after the abort. */
  abortedWith?: unknown;
  abortReason?: SyncAbortedError['reason'];
  settle?: (outcome: Outcome) => void;
  done?: Promise<void>;
  /** Set when the run was not made: the fabric just waits for its next slot. */
  skipped?: boolean;
  /** Set when a failed run's retry is due (written with the outcome). */
  retryAt?: number | null;
}

type Outcome =
  | { kind: 'ok' }
  | { kind: 'fail'; error: Error; reason: FailureReason };

/** The scheduler's in-memory view of one fabric. */
interface Runtime {
  fabric: Fabric;
  record: FabricRecord | undefined;
  removed: boolean;
  /** The one wheel entry of this fabric (next slot or retry), if armed. */
  timer: WheelEntry<Runtime> | undefined;
  timerKind: 'slot' | 'retry';
  /** Slot (and attempt) the armed timer serves. */
  timerSlot: number;
  timerAttempt: number;
  /** Queued or running. */
  run: Run | undefined;
  /** With policy 'all': serve every slot up to this one back to back. */
  catchUpUntil: number | null;
  /** True until the first wake after a start: missed slots are 'downtime'. */
  resumed: boolean;
  /** Paused: no timer armed; resuming re-arms from the stored state. */
  held: boolean;
  /** True until the first wake after a resume: missed slots are 'paused'. */
  unpaused: boolean;
  /** Lateness of the last run this scheduler started, ms. */
  lastLateness: number | null;
}

/** One named queue at run time. */
interface Queue {
  readonly name: string;
  readonly concurrency: number;
  readonly priority: number;
  readonly backlog: DueQueue<Run>;
  inFlight: number;
  readonly stats: RunStats;
}

/**
 * The scheduler: keeps every fabric syncing on its fixed-rate grid. Create it with
 * {@link createScheduler}.
 */
export class Scheduler extends EventEmitter<SchedulerEvents> {
  readonly #executor: Executor;
  readonly #clock: Clock;
  readonly #storage: Storage;
  readonly #singleFlight: SingleFlight;
  readonly #maxConcurrent: number;
  readonly #policy: MissedRunPolicy;
  readonly #maxCatchUp: number;
  readonly #defaultTimeout: number;
  readonly #retry: Required<RetryOptions> | false;
  readonly #shutdown: Required<StopOptions>;
  readonly #lockTtl: number;
  readonly #wheel: TimingWheel<Runtime>;
  readonly #fabrics = new Map<string, Runtime>();
  readonly #queues = new Map<string, Queue>();
  readonly #inFlight = new Set<Run>();
  readonly #otel: OtelInstruments;
  readonly #housekeepingMs: number;
  #housekeepingTimer: TimerHandle | undefined;
  #control: ControlData = emptyControl();
  /** Per-fabric chain that serializes upsert/remove of the same id. */
  readonly #ops = new Map<string, Promise<unknown>>();
  #state: 'idle' | 'starting' | 'running' | 'stopping' = 'idle';
  #startPromise: Promise<void> | undefined;
  #stopPromise: Promise<void> | undefined;
  #seq = 0;

  constructor(options: SchedulerOptions) {
    super();
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    if (typeof options.executor !== 'function') throw new InvalidOptionError('executor', 'a function', options.executor);
    this.#executor = options.executor;
    this.#clock = options.clock ?? systemClock;
    this.#storage = options.storage ?? new MemoryStorage();
    this.#singleFlight = options.singleFlight ?? new InProcessSingleFlight();
    const max = options.maxConcurrentSyncs ?? DEFAULTS.maxConcurrentSyncs;
    if (!(max === Number.POSITIVE_INFINITY || (Number.isSafeInteger(max) && max > 0))) {
      throw new InvalidOptionError('maxConcurrentSyncs', 'a positive integer or Infinity', options.maxConcurrentSyncs);
    }
    this.#maxConcurrent = max;
    const policy = options.missedRunPolicy ?? DEFAULTS.missedRunPolicy;
    if (policy !== 'skip' && policy !== 'once' && policy !== 'all') {
      throw new InvalidOptionError('missedRunPolicy', "'skip', 'once' or 'all'", options.missedRunPolicy);
    }
    this.#policy = policy;
    const maxCatchUp = options.maxCatchUpRuns ?? DEFAULTS.maxCatchUpRuns;
    if (!Number.isSafeInteger(maxCatchUp) || maxCatchUp < 1) {
      throw new InvalidOptionError('maxCatchUpRuns', 'a positive integer', options.maxCatchUpRuns);
    }
    this.#maxCatchUp = maxCatchUp;
    this.#defaultTimeout = durationOption('defaultSyncTimeout', options.defaultSyncTimeout, DEFAULTS.defaultSyncTimeout, { allowZero: true });
    if (options.retry === false) this.#retry = false;
    else {
      const r = options.retry ?? {};
      if (r === null || typeof r !== 'object') throw new InvalidOptionError('retry', 'an object or false', r);
      const multiplier = r.multiplier ?? DEFAULTS.retry.multiplier;
      if (typeof multiplier !== 'number' || !Number.isFinite(multiplier) || multiplier < 1) {
        throw new InvalidOptionError('retry.multiplier', 'a finite number >= 1', r.multiplier);
      }
      this.#retry = {
        initialDelay: durationOption('retry.initialDelay', r.initialDelay, DEFAULTS.retry.initialDelay),
        multiplier,
        maxDelay: durationOption('retry.maxDelay', r.maxDelay, DEFAULTS.retry.maxDelay),
      };
    }
    this.#shutdown = normalizeStop(options.shutdown, DEFAULTS.shutdown, 'shutdown');
    this.#lockTtl = durationOption('lockTtl', options.lockTtl, DEFAULTS.lockTtl);
    const jump = durationOption('clockJumpThreshold', options.clockJumpThreshold, DEFAULTS.clockJumpThreshold);
    this.#queues.set(DEFAULT_QUEUE, newQueue(DEFAULT_QUEUE, DEFAULTS.queue));
    const queues = options.queues ?? {};
    if (queues === null || typeof queues !== 'object' || Array.isArray(queues)) throw new InvalidOptionError('queues', 'an object of queue name -> { concurrency, priority }', options.queues);
    for (const [name, q] of Object.entries(queues)) {
      if (!isQueueName(name)) throw new InvalidOptionError('queues', 'keyed by non-empty queue names of at most 100 characters', name);
      if (q === null || typeof q !== 'object') throw new InvalidOptionError(`queues.${name}`, 'an object { concurrency?, priority? }', q);
      const concurrency = q.concurrency ?? DEFAULTS.queue.concurrency;
      if (!(concurrency === Number.POSITIVE_INFINITY || (Number.isSafeInteger(concurrency) && concurrency > 0))) {
        throw new InvalidOptionError(`queues.${name}.concurrency`, 'a positive integer or Infinity', q.concurrency);
      }
      const priority = q.priority ?? DEFAULTS.queue.priority;
      if (typeof priority !== 'number' || !Number.isFinite(priority)) throw new InvalidOptionError(`queues.${name}.priority`, 'a finite number', q.priority);
      this.#queues.set(name, newQueue(name, { concurrency, priority }));
    }
    this.#housekeepingMs = durationOption('housekeepingInterval', options.housekeepingInterval, this.#storage instanceof MemoryStorage ? 0 : DEFAULTS.housekeepingInterval, { allowZero: true });
    this.#otel = new OtelInstruments(options.meterProvider, VERSION, (r) => {
      for (const q of this.#queues.values()) {
        r.inFlight.observe(q.inFlight, { 'syncwheel.queue': q.name });
        r.backlog.observe(q.backlog.size, { 'syncwheel.queue': q.name });
      }
      for (const [status, n] of Object.entries(this.#statusCounts())) r.fabrics.observe(n, { 'syncwheel.status': status });
    });
    this.#wheel = new TimingWheel<Runtime>({
      clock: this.#clock,
      clockJumpThreshold: jump,
      onExpire: (due, now) => {
        for (const rt of due) this.#onTimer(rt, now);
      },
      onClockJump: (skew, now) => this.#onClockJump(skew, now),
    });
  }

  /** True between `start()` resolving and `stop()` being called. */
  get running(): boolean {
    return this.#state === 'running';
  }

  /** Runs in flight in this scheduler. */
  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /** Runs waiting for a concurrency slot (every queue). */
  get backlogSize(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.backlog.size;
    return n;
  }

  /** The configured queue names (`'default'` first). */
  get queueNames(): string[] {
    return [...this.#queues.keys()];
  }

  /**
   * Loads every fabric the storage holds and starts scheduling. Never-synced fabrics sync at
   * once; the others resume on their grid, with `missedRunPolicy` applied to what was missed.
   */
  start(): Promise<void> {
    if (this.#state === 'running') return Promise.resolve();
    if (this.#state === 'starting') return this.#startPromise!;
    if (this.#state === 'stopping') return this.#stopPromise!.then(() => this.start());
    this.#state = 'starting';
    this.#startPromise = this.#load().then(
      () => undefined,
      (error: unknown) => {
        this.#state = 'idle';
        throw error;
      },
    );
    return this.#startPromise;
  }

  async #load(): Promise<void> {
    const { records, corrupt } = await this.#storage.list();
    for (const bad of corrupt) {
      this.#reportError('load', new StorageError('read', `unreadable record for fabric ${JSON.stringify(bad.id)}: ${bad.reason}; it starts over as never synced when its host defines it again`, { fabricId: bad.id }), bad.id);
    }
    this.#setControl(await loadControl(this.#storage));
    if (this.#state !== 'starting') return; // stop() came first
    // Running from here on, synchronously: runs that come due at once (in a microtask) may start.
    this.#state = 'running';
    this.#otel.attach();
    this.#armHousekeeping();
    const now = this.#clock.now();
    for (const record of records) {
      if (record.definition.id === CONTROL_RECORD_ID || this.#fabrics.has(record.definition.id)) continue;
      const rt = this.#newRuntime(record.definition, record);
      rt.resumed = true;
      this.#fabrics.set(rt.fabric.id, rt);
      this.#armNext(rt, now);
    }
  }

  /**
   * Stops scheduling: clears every timer and the backlog, then waits for or aborts running
   * syncs (see {@link StopOptions}). Nothing runs afterwards. Safe to call twice or before start.
   */
  stop(options: StopOptions = {}): Promise<void> {
    if (this.#state === 'idle') return this.#stopPromise ?? Promise.resolve();
    if (this.#state === 'stopping') return this.#stopPromise!;
    const opts = normalizeStop(options, this.#shutdown, 'stop options');
    const starting = this.#state === 'starting' ? this.#startPromise!.catch(() => undefined) : Promise.resolve();
    this.#state = 'stopping';
    this.#stopPromise = starting.then(() => this.#drain(opts)).finally(() => {
      this.#state = 'idle';
    });
    return this.#stopPromise;
  }

  async #drain(opts: Required<StopOptions>): Promise<void> {
    this.#wheel.clear();
    if (this.#housekeepingTimer !== undefined) this.#clock.clearTimeout(this.#housekeepingTimer);
    this.#housekeepingTimer = undefined;
    this.#otel.detach();
    for (const rt of this.#fabrics.values()) rt.timer = undefined;
    for (const q of this.#queues.values()) {
      for (const run of q.backlog.drain()) {
        run.rt.run = undefined;
        this.#finishWaiters(run, this.#skipped(run, 'cancelled'));
      }
    }
    const running = [...this.#inFlight];
    if (running.length > 0 && opts.inFlight === 'wait' && opts.drainTimeout > 0) {
      let timer: TimerHandle | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = this.#clock.setTimeout(resolve, opts.drainTimeout);
      });
      await Promise.race([Promise.all(running.map((r) => r.done)), timeout]);
      this.#clock.clearTimeout(timer);
    }
    for (const run of this.#inFlight) this.#abortRun(run, 'shutdown');
    await Promise.all([...this.#inFlight].map((r) => r.done));
    this.#fabrics.clear();
  }

  /**
   * Adds a fabric or updates its definition; refuses bad input with `InvalidFabricError` and
   * changes nothing then. Takes effect at once: a new or newly enabled fabric syncs now, a new
   * interval re-anchors the grid at the last slot served, disabling aborts a running sync.
   */
  async upsertFabric(definition: FabricDefinition): Promise<FabricStatus> {
    const fabric = normalizeFabric(definition, { syncTimeout: this.#defaultTimeout });
    if (fabric.id.startsWith('\u0000')) throw new InvalidFabricError('id', 'a string not starting with a NUL character (reserved)', fabric.id);
    if (!this.#queues.has(fabric.queue)) {
      throw new InvalidFabricError('queue', `one of the queues configured in createScheduler ({ queues }): ${[...this.#queues.keys()].map((q) => JSON.stringify(q)).join(', ')}`, fabric.queue, fabric.id);
    }
    return this.#serialize(fabric.id, () => this.#upsert(fabric));
  }

  async #upsert(fabric: Fabric): Promise<FabricStatus> {
    const now = this.#clock.now();
    let previous: Fabric | undefined;
    let before = 'never_synced' as SyncStatus;
    const record = await this.#update(fabric.id, (current) => {
      previous = current?.definition;
      const state: FabricState = current ? { ...current.state } : initialState();
      before = current ? effectiveStatus(state.status, state.lastSyncAt, current.definition.syncInterval, now) : 'never_synced';
      if (!fabric.enabled) {
        this.#checkTransition(fabric.id, state.status, 'disabled');
        state.status = 'disabled';
        state.nextSyncAt = null;
      } else if (!previous || !previous.enabled || state.status === 'disabled') {
        // New or newly enabled: sync at once, grid anchored now.
        if (state.status === 'disabled') state.status = restingStatus(state.lastSyncAt, state.consecutiveFailures, fabric.syncInterval, now);
        state.anchorAt = now;
        state.lastSlotAt = null;
        state.nextSyncAt = now;
      } else if (previous.syncInterval !== fabric.syncInterval) {
        // New interval: the grid goes on from the last slot served; never wait longer than one new interval.
        const base = state.lastSlotAt ?? state.anchorAt ?? now;
        const next = base + fabric.syncInterval;
        state.anchorAt = next <= now ? now : base;
        state.nextSyncAt = Math.max(next, now);
        if (next <= now) state.lastSlotAt = null;
      }
      return { definition: fabric, state };
    });
    if (!record) throw new StorageError('write', `could not update fabric ${JSON.stringify(fabric.id)}: it kept changing under us`, { fabricId: fabric.id });
    this.#emit(previous ? 'fabric:updated' : 'fabric:added', { fabricId: fabric.id });
    const after = effectiveStatus(record.state.status, record.state.lastSyncAt, fabric.syncInterval, now);
    if (previous) this.#emitStatus(fabric.id, before === 'syncing' && after === 'disabled' ? 'syncing' : before, after, now);
    if (this.#state === 'running' || this.#state === 'starting') this.#applyDefinition(record, previous, now);
    return this.#toStatus(record, now);
  }

  /** Makes the runtime follow a freshly written record. */
  #applyDefinition(record: FabricRecord, previous: Fabric | undefined, now: number): void {
    const id = record.definition.id;
    let rt = this.#fabrics.get(id);
    // New to this scheduler (possibly already stored by another replica): it needs its timer too.
    const isNew = !rt;
    if (!rt) {
      rt = this.#newRuntime(record.definition, record);
      this.#fabrics.set(id, rt);
    }
    const timingChanged = isNew || !previous || previous.syncInterval !== record.definition.syncInterval || previous.enabled !== record.definition.enabled;
    rt.fabric = record.definition;
    rt.record = record;
    if (!record.definition.enabled) {
      this.#cancelTimer(rt);
      rt.catchUpUntil = null;
      if (rt.run) {
        if (rt.run.queue.backlog.remove(rt.run)) {
          const run = rt.run;
          rt.run = undefined;
          this.#finishWaiters(run, this.#skipped(run, 'cancelled'));
        } else this.#abortRun(rt.run, 'disabled');
      }
      return;
    }
    if (timingChanged && !rt.run) {
      rt.catchUpUntil = null;
      rt.resumed = false;
      this.#armNext(rt, now);
    }
  }

  /**
   * Removes a fabric: its timer is cancelled, a running sync aborted, its record deleted.
   * Resolves to false when no such fabric existed.
   */
  async removeFabric(id: string): Promise<boolean> {
    if (typeof id !== 'string') throw new InvalidOptionError('id', 'a string', id);
    if (id === CONTROL_RECORD_ID) return false;
    return this.#serialize(id, async () => {
      const rt = this.#fabrics.get(id);
      if (rt) {
        rt.removed = true;
        this.#cancelTimer(rt);
        if (rt.run) {
          if (rt.run.queue.backlog.remove(rt.run)) this.#finishWaiters(rt.run, this.#skipped(rt.run, 'cancelled'));
          else this.#abortRun(rt.run, 'removed');
        }
        this.#fabrics.delete(id);
      }
      const existed = await this.#storage.delete(id);
      if (existed || rt) this.#emit('fabric:removed', { fabricId: id });
      return existed || rt !== undefined;
    });
  }

  /**
   * Runs a fabric now, outside the grid (the grid is kept). Resolves with the run's outcome;
   * `{ status: 'skipped', reason: 'in-flight' }` when the fabric is already syncing or queued.
   */
  async syncNow(id: string): Promise<SyncResult> {
    if (this.#state !== 'running') throw new SchedulerNotRunningError('syncNow');
    let rt = this.#fabrics.get(id);
    if (!rt) {
      const record = id === CONTROL_RECORD_ID ? undefined : await this.#storage.get(id);
      if (!record) throw new UnknownFabricError(id);
      rt = this.#newRuntime(record.definition, record);
      this.#fabrics.set(id, rt);
    }
    if (!rt.fabric.enabled) throw new FabricDisabledError(id);
    const now = this.#clock.now();
    if (rt.run) {
      const skipped = this.#skippedFor(id, now, 'manual', 'in-flight');
      this.#emit('sync:skipped', skipped);
      return { status: 'skipped', ...skipped };
    }
    return new Promise<SyncResult>((resolve) => {
      this.#cancelTimer(rt);
      const run = this.#newRun(rt, now, 'manual', 1);
      (run.waiters ??= []).push(resolve);
      this.#enqueue(run);
    });
  }

  /** The fabric's status read from storage (so it reflects other replicas); undefined when unknown. */
  async getFabricStatus(id: string): Promise<FabricStatus | undefined> {
    if (id === CONTROL_RECORD_ID) return undefined;
    const record = await this.#storage.get(id);
    return record ? this.#toStatus(record, this.#clock.now()) : undefined;
  }

  /** Every stored fabric's status, sorted by id. */
  async listFabrics(): Promise<FabricStatus[]> {
    const { records } = await this.#storage.list();
    const now = this.#clock.now();
    return records.filter((r) => r.definition.id !== CONTROL_RECORD_ID).map((r) => this.#toStatus(r, now)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  // ---------------------------------------------------------------- operating it

  /**
   * Pauses the whole scheduler (no argument: a maintenance window), one queue (`{ queue }`) or one
   * fabric (`{ fabric }`). Paused fabrics keep their grid but start no scheduled, catch-up or retry
   * run (runs in flight finish; queued ones are dropped as skipped `'paused'`); `syncNow` still
   * works. The pause is written to the storage, so every replica sharing it (and the CLI) sees it
   * within their `housekeepingInterval`. Resolves once written and applied here.
   */
  async pause(target?: PauseTarget): Promise<void> {
    await this.#setPause(target, true);
  }

  /**
   * Lifts a pause made with {@link Scheduler.pause} (same target). Slots that came due while
   * paused follow `missedRunPolicy` (counted as missed with reason `'paused'`).
   */
  async resume(target?: PauseTarget): Promise<void> {
    await this.#setPause(target, false);
  }

  /** What is paused, as this scheduler knows it (its own pauses at once, other replicas' within `housekeepingInterval`). */
  pauses(): { scheduler: boolean; queues: string[]; fabrics: string[] } {
    const c = this.#control;
    return { scheduler: c.scheduler !== null, queues: Object.keys(c.queues).sort(), fabrics: Object.keys(c.fabrics).sort() };
  }

  async #setPause(target: PauseTarget | undefined, on: boolean): Promise<void> {
    let scope: PauseScope = 'scheduler';
    let name: string | undefined;
    if (target !== undefined) {
      if (target === null || typeof target !== 'object') throw new InvalidOptionError('pause target', '{ queue } or { fabric } or nothing', target);
      if ('queue' in target) {
        if (!this.#queues.has(target.queue)) throw new InvalidOptionError('queue', `one of the configured queues: ${[...this.#queues.keys()].map((q) => JSON.stringify(q)).join(', ')}`, target.queue);
        scope = 'queue';
        name = target.queue;
      } else if ('fabric' in target) {
        if (typeof target.fabric !== 'string') throw new InvalidOptionError('fabric', 'a string', target.fabric);
        if (!this.#fabrics.has(target.fabric) && (target.fabric === CONTROL_RECORD_ID || !(await this.#storage.get(target.fabric).catch(startOver)))) {
          throw new UnknownFabricError(target.fabric);
        }
        scope = 'fabric';
        name = target.fabric;
      } else throw new InvalidOptionError('pause target', '{ queue } or { fabric } or nothing', target);
    }
    const at = this.#clock.now();
    const data = await updateControl(this.#storage, (c) => {
      if (scope === 'scheduler') {
        if ((c.scheduler !== null) === on) return null;
        c.scheduler = on ? at : null;
      } else {
        const map = scope === 'queue' ? c.queues : c.fabrics;
        if ((map[name!] !== undefined) === on) return null;
        if (on) map[name!] = at;
        else delete map[name!];
      }
      return c;
    });
    this.#applyControl(data, false);
  }

  /** Adopts new control data: emits what changed and holds or re-arms the fabrics concerned. */
  #applyControl(data: ControlData, remote: boolean): void {
    const old = this.#control;
    this.#setControl(data);
    const at = this.#clock.now();
    const changes: Array<[boolean, PauseScope, string | undefined]> = [];
    if ((old.scheduler !== null) !== (data.scheduler !== null)) changes.push([data.scheduler !== null, 'scheduler', undefined]);
    for (const [scope, a, b] of [['queue', old.queues, data.queues], ['fabric', old.fabrics, data.fabrics]] as const) {
      for (const k of Object.keys(b)) if (a[k] === undefined) changes.push([true, scope, k]);
      for (const k of Object.keys(a)) if (b[k] === undefined) changes.push([false, scope, k]);
    }
    if (changes.length === 0) return;
    if (this.#state === 'running' || this.#state === 'starting') {
      for (const rt of this.#fabrics.values()) {
        const paused = this.#pausedFabric(rt.fabric);
        if (paused && !rt.held) this.#hold(rt);
        else if (!paused && rt.held) this.#unhold(rt, at);
      }
    }
    for (const [on, scope, target] of changes) {
      const event: PauseChangedEvent = target === undefined ? { scope, remote, at } : { scope, target, remote, at };
      this.#emit(on ? 'paused' : 'resumed', event);
    }
  }

  #pausedFabric(fabric: Fabric): boolean {
    if (!this.#anyPause) return false; // the hot path: nothing paused anywhere
    const c = this.#control;
    return c.scheduler !== null || c.queues[fabric.queue] !== undefined || c.fabrics[fabric.id] !== undefined;
  }

  /** Whether the control record pauses anything at all. */
  #anyPause = false;

  #setControl(data: ControlData): void {
    this.#control = data;
    this.#anyPause = data.scheduler !== null || Object.keys(data.queues).length > 0 || Object.keys(data.fabrics).length > 0;
  }

  /** Parks a paused fabric: no timer; a run waiting for a lane is dropped (skipped 'paused'). */
  #hold(rt: Runtime): void {
    this.#cancelTimer(rt);
    rt.held = true;
    rt.catchUpUntil = null;
    const run = rt.run;
    if (run && run.queue.backlog.remove(run)) {
      rt.run = undefined;
      const result = this.#skipped(run, 'paused');
      const { status: _s, ...event } = result;
      this.#emit('sync:skipped', event as Extract<SyncResult, { status: 'skipped' }>);
      this.#finishWaiters(run, result);
    }
  }

  /** Re-arms a resumed fabric from its stored state: what came due meanwhile follows missedRunPolicy. */
  #unhold(rt: Runtime, now: number): void {
    rt.held = false;
    if (rt.run || rt.removed || !rt.fabric.enabled || this.#state !== 'running') return;
    rt.unpaused = true;
    this.#armNext(rt, now);
  }

  /**
   * Drops every run waiting for a lane in `queue` (every queue when omitted): queued scheduled,
   * catch-up, retry and manual runs end as skipped `'cancelled'` and each fabric waits for its
   * next grid slot (the grid is untouched; dropped slots count as missed `'cleared'`). Runs in
   * flight are not affected. Returns the number of runs dropped.
   */
  clearBacklog(queue?: string): number {
    if (queue !== undefined && !this.#queues.has(queue)) {
      throw new InvalidOptionError('queue', `one of the configured queues: ${[...this.#queues.keys()].map((q) => JSON.stringify(q)).join(', ')}`, queue);
    }
    const now = this.#clock.now();
    let count = 0;
    for (const q of queue === undefined ? this.#queues.values() : [this.#queues.get(queue)!]) {
      for (const run of q.backlog.drain()) {
        count++;
        const rt = run.rt;
        rt.run = undefined;
        rt.catchUpUntil = null;
        const result = this.#skipped(run, 'cancelled');
        const { status: _s, ...event } = result;
        this.#emit('sync:skipped', event as Extract<SyncResult, { status: 'skipped' }>);
        this.#finishWaiters(run, result);
        const interval = rt.fabric.syncInterval;
        const next = slotAtOrAfter(rt.record?.state.anchorAt ?? run.scheduledAt, interval, now + 1);
        if (run.trigger === 'schedule' || run.trigger === 'catch-up') {
          this.#emitMissed(rt, run.scheduledAt, next - interval, Math.round((next - run.scheduledAt) / interval), 'cleared');
        }
        if (!rt.removed && rt.fabric.enabled && this.#state === 'running') this.#armTimer(rt, 'slot', next, 1);
      }
    }
    this.#emit('backlog:cleared', queue === undefined ? { count, at: now } : { queue, count, at: now });
    return count;
  }

  /**
   * A snapshot of run metrics: counters since the scheduler was created (runs, successes,
   * failures, timeouts, skips, missed slots, by reason), gauges now (in flight, backlog, fabrics by
   * status), lateness and duration histograms; in total and per queue. The same figures go to
   * OpenTelemetry instruments (see `METRIC_NAMES`).
   */
  metrics(): MetricsSnapshot {
    const queues: Record<string, QueueMetrics> = {};
    for (const q of this.#queues.values()) {
      queues[q.name] = { name: q.name, concurrency: q.concurrency, priority: q.priority, paused: this.#control.queues[q.name] !== undefined, ...q.stats.counts(q.inFlight, q.backlog.size) };
    }
    return { at: this.#clock.now(), running: this.running, paused: this.#control.scheduler !== null, fabrics: this.#statusCounts(), ...sumCounts(Object.values(queues)), queues };
  }

  #statusCounts(): Record<string, number> {
    const now = this.#clock.now();
    const out: Record<string, number> = {};
    for (const rt of this.#fabrics.values()) {
      const s = rt.record?.state;
      const status = s ? effectiveStatus(s.status, s.lastSyncAt, rt.fabric.syncInterval, now) : 'never_synced';
      out[status] = (out[status] ?? 0) + 1;
    }
    return out;
  }

  #observe<E extends keyof SchedulerEvents>(event: E, payload: Parameters<SchedulerEvents[E]>[0]): void {
    const id = (payload as { fabricId?: string }).fabricId;
    if (id === undefined) return;
    const rt = this.#fabrics.get(id);
    const q = rt?.run?.queue ?? (rt ? this.#queueOf(rt.fabric) : this.#queues.get(DEFAULT_QUEUE)!);
    const st = q.stats;
    switch (event) {
      case 'sync:started': {
        const p = payload as SyncStartedEvent;
        st.runs++;
        st.lateness.observe(p.lateness);
        if (rt) rt.lastLateness = p.lateness;
        this.#otel.started(q.name, p.trigger, p.lateness);
        break;
      }
      case 'sync:succeeded': {
        const p = payload as SyncStartedEvent & { durationMs: number };
        st.succeeded++;
        st.duration.observe(p.durationMs);
        this.#otel.finished(q.name, p.trigger, p.durationMs, null);
        break;
      }
      case 'sync:failed': {
        const p = payload as SyncFailedEvent;
        st.failed++;
        st.failedByReason[p.reason]++;
        st.duration.observe(p.durationMs);
        this.#otel.finished(q.name, p.trigger, p.durationMs, p.reason);
        break;
      }
      case 'sync:skipped': {
        const p = payload as SyncSkippedEvent;
        st.skipped++;
        st.skippedByReason[p.reason]++;
        this.#otel.skipped(q.name, p.reason);
        break;
      }
      case 'sync:missed': {
        const p = payload as SyncMissedEvent;
        st.missed += p.count;
        st.missedByReason[p.reason] += p.count;
        this.#otel.missed(q.name, p.reason, p.count);
        break;
      }
    }
  }

  // ---------------------------------------------------------------- housekeeping and state checks

  #armHousekeeping(): void {
    if (this.#housekeepingMs <= 0 || this.#housekeepingTimer !== undefined || this.#state !== 'running') return;
    this.#housekeepingTimer = this.#clock.setTimeout(() => {
      this.#housekeepingTimer = undefined;
      void this.#housekeep().finally(() => this.#armHousekeeping());
    }, this.#housekeepingMs);
  }

  async #housekeep(): Promise<void> {
    try {
      await this.#refreshControl(true);
    } catch (error) {
      this.#reportError('housekeeping', toError(error));
    }
    try {
      const { records } = await this.#storage.list();
      this.#adopt(records);
      await this.#sweepStale(records);
    } catch (error) {
      this.#reportError('housekeeping', toError(error));
    }
  }

  /**
   * Follows definitions written by other schedulers sharing the storage: a fabric this one does
   * not know yet is scheduled here too (so partitioning can hand it to any replica), and a newer
   * definition of an idle fabric (interval, enabled, timeout, queue) is applied. Removals are not
   * followed: a record that vanished may be a storage data loss, which the claim path re-registers.
   */
  #adopt(records: readonly FabricRecord[]): void {
    if (this.#state !== 'running') return;
    const now = this.#clock.now();
    for (const r of records) {
      const id = r.definition.id;
      if (id === CONTROL_RECORD_ID) continue;
      const rt = this.#fabrics.get(id);
      if (!rt) {
        const fresh = this.#newRuntime(r.definition, r);
        this.#fabrics.set(id, fresh);
        this.#armNext(fresh, now);
        continue;
      }
      if (rt.run || rt.removed || (rt.record && r.version <= rt.record.version)) continue;
      const previous = rt.fabric;
      const d = r.definition;
      if (previous.syncInterval !== d.syncInterval || previous.enabled !== d.enabled || previous.syncTimeout !== d.syncTimeout || previous.queue !== d.queue) {
        this.#applyDefinition(r, previous, now);
      } else {
        rt.record = r;
      }
    }
  }

  /** Re-reads the control record: pauses made elsewhere, and sync requests this scheduler takes. */
  async #refreshControl(remote: boolean): Promise<void> {
    const data = await loadControl(this.#storage);
    if (this.#state !== 'running' && this.#state !== 'starting') return;
    this.#applyControl(data, remote);
    for (const [id, at] of Object.entries(data.syncRequests)) {
      const rt = this.#fabrics.get(id);
      if (!rt || !rt.fabric.enabled || rt.removed) continue;
      if (this.#singleFlight.shouldRun && !this.#singleFlight.shouldRun(id)) continue;
      let taken = false;
      await updateControl(this.#storage, (c) => {
        if (c.syncRequests[id] !== at) return null;
        delete c.syncRequests[id];
        taken = true;
        return c;
      });
      if (taken && this.#state === 'running') {
        this.syncNow(id).catch((error: unknown) => this.#reportError('sync-request', toError(error), id));
      }
    }
  }

  /** Repairs stored `syncing` states older than one lease whose lock nobody holds. */
  async #sweepStale(records: readonly FabricRecord[]): Promise<void> {
    const now = this.#clock.now();
    for (const r of records) {
      const id = r.definition.id;
      if (id === CONTROL_RECORD_ID || r.state.status !== 'syncing') continue;
      if ((r.state.lastAttemptAt ?? Number.NEGATIVE_INFINITY) > now - this.#lockTtl) continue;
      if (this.#fabrics.get(id)?.run?.controller) continue; // running here
      if (this.#state !== 'running') return;
      await this.#repairStale(r, 'automatic');
    }
  }

  /**
   * Restores the resting status of a record stuck in `syncing` if no live claim exists: holds the
   * fabric's lock meanwhile, and writes only if no run claimed the record since (same fencing token).
   * Resolves to 'repaired', 'live' (someone holds the lock, or it runs here) or 'unknown'.
   */
  async #repairStale(r: FabricRecord, how: 'automatic' | 'repair' | 'check'): Promise<'repaired' | 'live' | 'unknown' | 'stale'> {
    const id = r.definition.id;
    if (this.#fabrics.get(id)?.run?.settle) return 'live';
    let lease: Lease | undefined;
    try {
      const acquired = this.#singleFlight.acquire(id, { ttl: this.#lockTtl });
      lease = isThenable(acquired) ? await acquired : acquired;
    } catch (error) {
      if (how !== 'check') this.#reportError('lock', toError(error), id);
      return 'unknown';
    }
    if (!lease) return 'live';
    try {
      if (how === 'check') return 'stale';
      const token = r.state.fencingToken;
      const now = this.#clock.now();
      let to: SyncStatus | undefined;
      const written = await this.#update(id, (current) => {
        if (!current || current.state.fencingToken !== token || current.state.status !== 'syncing') return null;
        const s = current.state;
        to = restingStatus(s.lastSyncAt, s.consecutiveFailures, current.definition.syncInterval, now);
        const next = current.definition.enabled && s.anchorAt !== null ? slotAtOrAfter(s.anchorAt, current.definition.syncInterval, Math.max(now, (s.lastSlotAt ?? Number.NEGATIVE_INFINITY) + 1)) : null;
        return { definition: current.definition, state: { ...s, status: to, nextSyncAt: next } };
      });
      if (!written || to === undefined) return 'live';
      this.#emitStatus(id, 'syncing', to, now);
      this.#emit('state:repaired', { fabricId: id, issue: 'stale-syncing', action: `status syncing -> ${to} (no live claim)`, at: now });
      return 'repaired';
    } finally {
      await this.#release(lease, id);
    }
  }

  /** Releases a lease (synchronous or not), reporting a failure instead of throwing. */
  #release(lease: Lease, id: string): void | Promise<void> {
    try {
      const released = lease.release();
      if (released) return released.catch((error: unknown) => this.#reportError('lock', toError(error), id));
    } catch (error) {
      this.#reportError('lock', toError(error), id);
    }
  }

  /**
   * Checks the stored state: fabrics `syncing` with no live claim (judged by the single-flight: a
   * lock it can take is held by nobody), `nextSyncAt` off the fabric's grid, records for fabrics
   * not in `definedIds` (only when given), fabrics naming a queue not configured here, and
   * unreadable records. Changes nothing; see {@link Scheduler.repair}.
   */
  async validate(options: ValidateOptions = {}): Promise<StateReport> {
    return this.#check(options, false);
  }

  /**
   * {@link Scheduler.validate}, then fixes what can be fixed: stale `syncing` goes back to the
   * status its history implies, an off-grid `nextSyncAt` to the next slot of its grid, records of
   * undefined fabrics and unreadable records are deleted. Unknown queues are only reported.
   */
  async repair(options: ValidateOptions = {}): Promise<StateReport> {
    return this.#check(options, true);
  }

  async #check(options: ValidateOptions, fix: boolean): Promise<StateReport> {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    const defined = options.definedIds === undefined ? undefined : new Set(options.definedIds);
    const { records, corrupt } = await this.#storage.list();
    const now = this.#clock.now();
    const issues: StateIssue[] = [];
    const add = (issue: StateIssue) => issues.push(issue);
    for (const bad of corrupt) {
      if (bad.id === CONTROL_RECORD_ID) continue;
      const issue: StateIssue = { fabricId: bad.id, kind: 'unreadable', detail: bad.reason, repairable: true, repaired: false };
      if (fix) {
        try {
          await this.#storage.delete(bad.id);
          issue.repaired = true;
          this.#emit('state:repaired', { fabricId: bad.id, issue: 'unreadable', action: 'record deleted', at: now });
        } catch (error) {
          this.#reportError('storage', toError(error), bad.id);
        }
      }
      add(issue);
    }
    let fabrics = 0;
    for (const r of records) {
      const id = r.definition.id;
      if (id === CONTROL_RECORD_ID) continue;
      fabrics++;
      const s = r.state;
      const d = r.definition;
      if (defined && !defined.has(id)) {
        const issue: StateIssue = { fabricId: id, kind: 'undefined-fabric', detail: 'no host defines this fabric', repairable: true, repaired: false };
        if (fix) {
          await this.removeFabric(id);
          issue.repaired = true;
          this.#emit('state:repaired', { fabricId: id, issue: 'undefined-fabric', action: 'record deleted', at: now });
        }
        add(issue);
        continue;
      }
      if (!this.#queues.has(d.queue)) {
        add({ fabricId: id, kind: 'unknown-queue', detail: `queue ${JSON.stringify(d.queue)} is not configured here (its runs use "default")`, repairable: false, repaired: false });
      }
      if (s.status === 'syncing') {
        const verdict = await this.#repairStale(r, fix ? 'repair' : 'check');
        if (verdict === 'stale' || verdict === 'repaired') {
          add({ fabricId: id, kind: 'stale-syncing', detail: `stored "syncing" since ${new Date(s.lastAttemptAt ?? 0).toISOString()} but nobody holds its lock`, repairable: true, repaired: verdict === 'repaired' });
        }
        continue;
      }
      const interval = d.syncInterval;
      const retrying = s.status === 'error' && s.consecutiveFailures > 0;
      if (d.enabled && s.status !== 'disabled' && !retrying && s.anchorAt !== null && s.nextSyncAt !== null && (s.nextSyncAt < s.anchorAt || (s.nextSyncAt - s.anchorAt) % interval !== 0)) {
        const issue: StateIssue = { fabricId: id, kind: 'off-grid', detail: `nextSyncAt ${s.nextSyncAt} is not anchorAt ${s.anchorAt} + k * ${interval}`, repairable: true, repaired: false };
        if (fix) {
          const written = await this.#update(id, (current) => {
            if (!current || current.version !== r.version) return null;
            const cs = current.state;
            return { definition: current.definition, state: { ...cs, nextSyncAt: slotAtOrAfter(cs.anchorAt!, interval, Math.max(now, (cs.lastSlotAt ?? Number.NEGATIVE_INFINITY) + 1)) } };
          });
          if (written) {
            issue.repaired = true;
            this.#emit('state:repaired', { fabricId: id, issue: 'off-grid', action: `nextSyncAt -> ${written.state.nextSyncAt}`, at: now });
          }
        }
        add(issue);
      }
    }
    return { checkedAt: now, fabrics, issues };
  }

  // ---------------------------------------------------------------- scheduling

  #newRuntime(fabric: Fabric, record: FabricRecord | undefined): Runtime {
    return { fabric, record, removed: false, timer: undefined, timerKind: 'slot', timerSlot: 0, timerAttempt: 1, run: undefined, catchUpUntil: null, resumed: false, held: false, unpaused: false, lastLateness: null };
  }

  #cancelTimer(rt: Runtime): void {
    if (rt.timer) this.#wheel.cancel(rt.timer);
    rt.timer = undefined;
  }

  /** Arms the fabric's one timer at `at`, to serve grid slot `slot` (a retry serves its failed slot). */
  #armTimer(rt: Runtime, kind: 'slot' | 'retry', at: number, attempt: number, slot = at): void {
    this.#cancelTimer(rt);
    rt.timerKind = kind;
    rt.timerSlot = slot;
    rt.timerAttempt = attempt;
    rt.held = false;
    rt.timer = this.#wheel.schedule(rt, at);
  }

  /** Arms the fabric's next grid slot from its stored state (idle fabrics only). */
  #armNext(rt: Runtime, now: number): void {
    if (!rt.fabric.enabled || rt.removed) return;
    const s = rt.record?.state;
    const interval = rt.fabric.syncInterval;
    let due: number;
    if (!s || s.anchorAt === null) due = now;
    else if (s.lastSlotAt === null) due = Math.max(now, s.nextSyncAt ?? now); // never run on this grid: its first run anchors it
    else due = slotAtOrAfter(s.anchorAt, interval, s.lastSlotAt + 1);
    this.#armTimer(rt, 'slot', due, 1);
  }

  #onTimer(rt: Runtime, now: number): void {
    const dueAt = rt.timer?.dueAt ?? now;
    rt.timer = undefined;
    if (rt.removed || !rt.fabric.enabled || this.#state !== 'running' && this.#state !== 'starting') return;
    if (rt.run) return; // a run is queued or in flight; its completion re-arms
    if (this.#pausedFabric(rt.fabric)) return this.#hold(rt);
    if (this.#singleFlight.shouldRun && !this.#singleFlight.shouldRun(rt.fabric.id)) {
      // Another replica is responsible: follow the grid quietly, touching neither lock nor storage.
      const anchor = rt.record?.state.anchorAt ?? rt.timerSlot;
      this.#armTimer(rt, 'slot', slotAtOrAfter(anchor, rt.fabric.syncInterval, Math.max(now, rt.timerSlot) + 1), 1);
      return;
    }
    if (rt.timerKind === 'retry') {
      this.#enqueue(this.#newRun(rt, rt.timerSlot, 'retry', rt.timerAttempt, dueAt));
      return;
    }
    const slot = rt.timerSlot;
    const plan = this.#planLate(rt, slot, now);
    rt.resumed = false;
    rt.unpaused = false;
    if (plan.serve === null) {
      this.#armTimer(rt, 'slot', plan.next, 1);
      return;
    }
    this.#enqueue(this.#newRun(rt, plan.serve, plan.serve === slot && plan.missed === 0 ? 'schedule' : 'catch-up', 1));
  }

  /**
   * Applies `missedRunPolicy` to a slot seen at `now`: serve it, serve the latest one, or none.
   * Emits `sync:missed` for what is dropped.
   */
  #planLate(rt: Runtime, slot: number, now: number): { serve: number | null; missed: number; next: number } {
    const interval = rt.fabric.syncInterval;
    const latest = slot + Math.floor((now - slot) / interval) * interval;
    const extra = Math.max(0, Math.round((latest - slot) / interval));
    const reason: MissedReason = rt.resumed ? 'downtime' : rt.unpaused ? 'paused' : 'late';
    if (extra === 0) return { serve: slot, missed: 0, next: slot + interval };
    switch (this.#policy) {
      case 'skip':
        this.#emitMissed(rt, slot, latest, extra + 1, reason);
        return { serve: null, missed: extra + 1, next: latest + interval };
      case 'once':
        this.#emitMissed(rt, slot, latest - interval, extra, reason);
        return { serve: latest, missed: extra, next: latest + interval };
      case 'all': {
        const first = Math.max(slot, latest - (this.#maxCatchUp - 1) * interval);
        const dropped = Math.round((first - slot) / interval);
        if (dropped > 0) this.#emitMissed(rt, slot, first - interval, dropped, reason);
        rt.catchUpUntil = latest;
        return { serve: first, missed: dropped, next: first + interval };
      }
    }
  }

  #emitMissed(rt: Runtime, firstSlotAt: number, lastSlotAt: number, count: number, reason: MissedReason): void {
    if (count <= 0) return;
    this.#emit('sync:missed', { fabricId: rt.fabric.id, count, firstSlotAt, lastSlotAt, reason });
  }

  /** A run serving `scheduledAt`, due at `dueAt` (a retry: its backoff time; a manual run: the request). */
  #newRun(rt: Runtime, scheduledAt: number, trigger: SyncTrigger, attempt: number, dueAt = scheduledAt): Run {
    const run: Run = { rt, scheduledAt, trigger, attempt, queuedAt: dueAt, queue: this.#queueOf(rt.fabric) };
    rt.run = run;
    return run;
  }

  /** The queue a fabric's runs use; a name no longer configured (set by another replica) falls back to the default queue. */
  #queueOf(fabric: Fabric): Queue {
    return this.#queues.get(fabric.queue) ?? this.#queues.get(DEFAULT_QUEUE)!;
  }

  #enqueue(run: Run): void {
    const q = run.queue;
    if (this.#inFlight.size < this.#maxConcurrent && q.inFlight < q.concurrency && q.backlog.size === 0) this.#begin(run);
    else q.backlog.push(run, run.queuedAt, this.#seq++);
  }

  /** The queue whose head runs next: a free lane, then highest priority, then oldest due, then arrival. */
  #nextQueue(): Queue | undefined {
    let best: Queue | undefined;
    let bestKey: { due: number; seq: number } | undefined;
    for (const q of this.#queues.values()) {
      if (q.inFlight >= q.concurrency) continue;
      const head = q.backlog.peek();
      if (!head) continue;
      if (!best || q.priority > best.priority || (q.priority === best.priority && (head.due < bestKey!.due || (head.due === bestKey!.due && head.seq < bestKey!.seq)))) {
        best = q;
        bestKey = head;
      }
    }
    return best;
  }

  #pump(): void {
    while (this.#inFlight.size < this.#maxConcurrent && this.#state === 'running') {
      const run = this.#nextQueue()?.backlog.pop();
      if (!run) return;
      if (run.trigger === 'schedule' || run.trigger === 'catch-up') {
        // Waited in the backlog: serve the latest slot that has come due, count the rest as missed.
        const now = this.#clock.now();
        const interval = run.rt.fabric.syncInterval;
        const latest = run.scheduledAt + Math.floor((now - run.scheduledAt) / interval) * interval;
        if (latest > run.scheduledAt && run.rt.catchUpUntil === null) {
          this.#emitMissed(run.rt, run.scheduledAt, latest - interval, Math.round((latest - run.scheduledAt) / interval), 'late');
          run.scheduledAt = latest;
          run.trigger = 'catch-up';
        }
      }
      this.#begin(run);
    }
  }

  // ---------------------------------------------------------------- one run

  #begin(run: Run): void {
    this.#inFlight.add(run);
    run.queue.inFlight++;
    run.done = this.#runToEnd(run);
  }

  /** Runs `run` and, once its lease is released, frees its lane and re-arms its fabric. Never rejects. */
  async #runToEnd(run: Run): Promise<void> {
    try {
      let settle!: (o: Outcome) => void;
      const outcome = new Promise<Outcome>((resolve) => (settle = resolve));
      await this.#execute(run, outcome, settle);
    } catch (error) {
      this.#reportError('run', toError(error), run.rt.fabric.id);
    }
    // The lease is released by now, so an immediate catch-up run can take it.
    this.#inFlight.delete(run);
    run.queue.inFlight--;
    const rt = run.rt;
    if (rt.run === run) rt.run = undefined;
    if (this.#state === 'running') {
      if (!rt.run && !rt.timer && !rt.removed && rt.fabric.enabled) {
        const now = this.#clock.now();
        if (run.skipped) this.#armTimer(rt, 'slot', slotAtOrAfter(rt.record?.state.anchorAt ?? run.scheduledAt, rt.fabric.syncInterval, Math.max(now, run.scheduledAt + 1)), 1);
        else this.#armAfterRun(run, now, run.retryAt ?? null);
      }
      this.#pump();
    }
  }

  async #execute(run: Run, outcome: Promise<Outcome>, settle: (o: Outcome) => void): Promise<void> {
    const rt = run.rt;
    const id = rt.fabric.id;
    const isSlot = run.trigger === 'schedule' || run.trigger === 'catch-up';
    // 1. the lock
    let lease: Lease | undefined;
    try {
      const acquired = this.#singleFlight.acquire(id, { ttl: this.#lockTtl });
      lease = isThenable(acquired) ? await acquired : acquired;
    } catch (error) {
      this.#reportError('lock', toError(error), id);
      return this.#skip(run, 'unavailable');
    }
    if (!lease) return this.#skip(run, 'locked');
    try {
      if (rt.removed || !rt.fabric.enabled || this.#state !== 'running' || run.abortReason) return this.#skip(run, 'cancelled');
      // 2. the claim: compare-and-set on the stored record, fencing token bumped in the same write
      const startedAt = this.#clock.now();
      let from: SyncStatus = 'never_synced';
      let already = false;
      let claimed: FabricRecord | undefined;
      try {
        const claim = this.#update(id, (stored) => {
          // The record is gone while this scheduler still has the fabric (the storage lost its
          // data, e.g. Redis restarted empty): re-register it from what this scheduler knows.
          const current = stored ?? (rt.removed ? undefined : { definition: rt.fabric, state: rt.record ? { ...rt.record.state } : initialState() });
          if (!current) return null;
          const s = current.state;
          if (s.status === 'disabled') return null;
          if (isSlot && s.lastSlotAt !== null && s.lastSlotAt >= run.scheduledAt) {
            already = true;
            return null;
          }
          if (run.trigger === 'retry' && s.lastSlotAt !== null && s.lastSlotAt > run.scheduledAt) {
            already = true;
            return null;
          }
          from = effectiveStatus(s.status, s.lastSyncAt, current.definition.syncInterval, startedAt);
          this.#checkTransition(id, s.status === 'syncing' ? restingStatus(s.lastSyncAt, s.consecutiveFailures, current.definition.syncInterval, startedAt) : from, 'syncing');
          return {
            definition: current.definition,
            state: {
              ...s,
              status: 'syncing',
              lastAttemptAt: startedAt,
              lastSlotAt: isSlot ? run.scheduledAt : s.lastSlotAt,
              // The first slot served anchors the grid (a fabric defined long before start() syncs at start).
              anchorAt: isSlot && s.lastSlotAt === null ? run.scheduledAt : (s.anchorAt ?? run.scheduledAt),
              nextSyncAt: null,
              fencingToken: s.fencingToken + 1,
            },
          };
        });
        claimed = isThenable(claim) ? await claim : claim;
      } catch (error) {
        this.#reportError('storage', toError(error), id);
        return this.#skip(run, 'unavailable');
      }
      if (!claimed) return this.#skip(run, already ? 'already-claimed' : 'cancelled');
      rt.record = claimed;
      if (rt.removed || run.abortReason) {
        await this.#restore(run, claimed);
        return this.#skip(run, 'cancelled');
      }
      // 3. run the executor
      const fencingToken = claimed.state.fencingToken;
      run.settle = settle;
      const started: SyncStartedEvent = {
        fabricId: id,
        scheduledAt: run.scheduledAt,
        startedAt,
        lateness: startedAt - run.queuedAt,
        attempt: run.attempt,
        fencingToken,
        trigger: run.trigger,
      };
      this.#emitStatus(id, from, 'syncing', startedAt);
      this.#emit('sync:started', started);
      const leaseSignal = lease.signal;
      const onLeaseLost = leaseSignal
        ? () => {
            abortRunSignal(run, leaseSignal.reason);
            settle({ kind: 'fail', reason: 'lock-lost', error: new SyncAbortedError(id, 'lock-lost', { cause: leaseSignal.reason }) });
          }
        : undefined;
      if (leaseSignal && onLeaseLost) {
        if (leaseSignal.aborted) onLeaseLost();
        else leaseSignal.addEventListener('abort', onLeaseLost, { once: true });
      }
      const timeoutMs = rt.fabric.syncTimeout;
      let timer: TimerHandle | undefined;
      if (timeoutMs > 0) {
        timer = this.#clock.setTimeout(() => {
          const error = new SyncTimeoutError(id, timeoutMs);
          abortRunSignal(run, error);
          settle({ kind: 'fail', reason: 'timeout', error });
        }, timeoutMs);
      }
      try {
        const value = this.#executor(rt.fabric, new RunContext(run, fencingToken));
        if (isThenable(value)) {
          value.then(
            () => settle(OK),
            (error: unknown) => settle({ kind: 'fail', reason: 'error', error: toError(error) }),
          );
        } else settle(OK);
      } catch (error) {
        settle({ kind: 'fail', reason: 'error', error: toError(error) });
      }
      const result = await outcome;
      if (timer !== undefined) this.#clock.clearTimeout(timer);
      if (leaseSignal && onLeaseLost) leaseSignal.removeEventListener('abort', onLeaseLost);
      await this.#record(run, started, result);
    } finally {
      const released = this.#release(lease, id);
      if (released) await released;
    }
  }

  /** Cuts a run short: a queued run is dropped later, a running one settles now. */
  #abortRun(run: Run, reason: SyncAbortedError['reason']): void {
    if (run.abortReason) return;
    run.abortReason = reason;
    const error = new SyncAbortedError(run.rt.fabric.id, reason);
    abortRunSignal(run, error);
    run.settle?.({ kind: 'fail', reason: 'aborted', error });
  }

  /** Writes the outcome of a run (only if no later claim superseded ours), then tells the host. */
  async #record(run: Run, started: SyncStartedEvent, outcome: Outcome): Promise<void> {
    const rt = run.rt;
    const id = rt.fabric.id;
    const finishedAt = this.#clock.now();
    const durationMs = finishedAt - started.startedAt;
    const token = started.fencingToken;
    const retryAt = outcome.kind === 'fail' && outcome.reason !== 'aborted' && outcome.reason !== 'lock-lost' ? this.#retryAt(rt, run, finishedAt) : null;
    const abandoned = outcome.kind === 'fail' && (outcome.reason === 'aborted' || outcome.reason === 'lock-lost');
    let to: SyncStatus | undefined;
    let storedFrom: SyncStatus = 'syncing';
    let written: FabricRecord | undefined;
    try {
      written = await this.#update(id, (current) => {
        if (!current || current.state.fencingToken !== token) return null; // superseded: stand down
        const s = current.state;
        const interval = current.definition.syncInterval;
        const state: FabricState = { ...s };
        if (outcome.kind === 'ok') {
          state.lastSyncAt = finishedAt;
          state.lastError = null;
          state.consecutiveFailures = 0;
        } else if (!abandoned) {
          state.lastError = errorMessage(outcome.error);
          state.consecutiveFailures = s.consecutiveFailures + 1;
        }
        if (s.status === 'disabled' || !current.definition.enabled) {
          state.status = 'disabled';
          state.nextSyncAt = null;
        } else {
          state.status = outcome.kind === 'ok' ? 'in_sync' : abandoned ? restingStatus(state.lastSyncAt, state.consecutiveFailures, interval, finishedAt) : 'error';
          state.nextSyncAt = retryAt ?? slotAtOrAfter(s.anchorAt ?? started.scheduledAt, interval, Math.max(finishedAt, (s.lastSlotAt ?? started.scheduledAt) + 1));
        }
        if (s.status !== state.status) this.#checkTransition(id, s.status, state.status);
        storedFrom = s.status;
        to = state.status;
        return { definition: current.definition, state };
      });
    } catch (error) {
      this.#reportError('storage', toError(error), id);
    }
    if (written) rt.record = written;
    if (written && to !== undefined) this.#emitStatus(id, storedFrom, to, finishedAt);
    const base = { ...started, finishedAt, durationMs };
    run.retryAt = written && retryAt !== null ? retryAt : null;
    if (outcome.kind === 'ok') {
      this.#emit('sync:succeeded', base);
      if (run.waiters) this.#finishWaiters(run, { status: 'succeeded', ...base });
    } else {
      const failed = { ...base, error: outcome.error, reason: outcome.reason, nextRetryAt: written ? retryAt : null };
      this.#emit('sync:failed', failed);
      if (run.waiters) this.#finishWaiters(run, { status: 'failed', ...failed });
    }
  }

  /** When to retry a failed run, or null when the next regular slot comes first. */
  #retryAt(rt: Runtime, run: Run, now: number): number | null {
    if (!this.#retry) return null;
    const failures = (rt.record?.state.consecutiveFailures ?? 0) + 1;
    const delay = Math.min(this.#retry.initialDelay * this.#retry.multiplier ** (failures - 1), this.#retry.maxDelay);
    const at = now + delay;
    const next = this.#nextSlotAfterRun(rt, run, now);
    return at < next ? at : null;
  }

  /** First grid slot a finished run leaves the fabric free for (slots it covered are missed). */
  #nextSlotAfterRun(rt: Runtime, run: Run, finishedAt: number): number {
    const s = rt.record?.state;
    const interval = rt.fabric.syncInterval;
    const anchor = s?.anchorAt ?? run.scheduledAt;
    const lastSlot = s?.lastSlotAt ?? null;
    return slotAtOrAfter(anchor, interval, Math.max(finishedAt, lastSlot === null ? Number.NEGATIVE_INFINITY : lastSlot + 1));
  }

  /** Re-arms a fabric after a run: retry, catch-up, or the next free slot (counting those covered as missed). */
  #armAfterRun(run: Run, now: number, retryAt: number | null): void {
    const rt = run.rt;
    if (this.#pausedFabric(rt.fabric)) return this.#hold(rt);
    if (retryAt !== null) return this.#armTimer(rt, 'retry', retryAt, run.attempt + 1, run.scheduledAt);
    const s = rt.record?.state;
    const interval = rt.fabric.syncInterval;
    const lastSlot = s?.lastSlotAt ?? null;
    if (rt.catchUpUntil !== null && lastSlot !== null && lastSlot < rt.catchUpUntil) {
      const nextCatchUp = lastSlot + interval;
      rt.run = undefined;
      this.#enqueue(this.#newRun(rt, nextCatchUp, 'catch-up', 1));
      return;
    }
    rt.catchUpUntil = null;
    const next = this.#nextSlotAfterRun(rt, run, now);
    if (lastSlot !== null) {
      const firstUnserved = lastSlot + interval;
      const covered = Math.round((next - firstUnserved) / interval);
      if (covered > 0) this.#emitMissed(rt, firstUnserved, next - interval, covered, 'overrun');
    }
    this.#armTimer(rt, 'slot', next, 1);
  }

  async #restore(run: Run, claimed: FabricRecord): Promise<void> {
    const token = claimed.state.fencingToken;
    const now = this.#clock.now();
    try {
      await this.#update(run.rt.fabric.id, (current) => {
        if (!current || current.state.fencingToken !== token || current.state.status !== 'syncing') return null;
        const s = current.state;
        return { definition: current.definition, state: { ...s, status: restingStatus(s.lastSyncAt, s.consecutiveFailures, current.definition.syncInterval, now) } };
      });
    } catch (error) {
      this.#reportError('storage', toError(error), run.rt.fabric.id);
    }
  }

  #skip(run: Run, reason: SkipReason): void {
    const result = this.#skipped(run, reason);
    const { status: _s, ...event } = result;
    this.#emit('sync:skipped', event as Extract<SyncResult, { status: 'skipped' }>);
    // A slot someone else served (or that could not be claimed) is done here: the fabric waits
    // for its next slot (armed once the run's lease is released).
    run.skipped = true;
    this.#finishWaiters(run, result);
  }

  #skipped(run: Run, reason: SkipReason): Extract<SyncResult, { status: 'skipped' }> {
    return { status: 'skipped', ...this.#skippedFor(run.rt.fabric.id, run.scheduledAt, run.trigger, reason) };
  }

  #skippedFor(fabricId: string, scheduledAt: number, trigger: SyncTrigger, reason: SkipReason) {
    return { fabricId, scheduledAt, trigger, reason };
  }

  #finishWaiters(run: Run, result: SyncResult): void {
    const waiters = run.waiters;
    if (!waiters) return;
    run.waiters = undefined;
    for (const resolve of waiters) resolve(result);
  }

  // ---------------------------------------------------------------- helpers

  #onClockJump(skew: number, now: number): void {
    // The wheel moved every due time by `skew`; move the grids the same way (in storage, by
    // compare-and-set) so runs keep their spacing in elapsed time. Fabrics another replica is
    // responsible for are left to it.
    for (const rt of this.#fabrics.values()) {
      if (rt.timer) rt.timerSlot += skew;
      if (rt.run) rt.run.scheduledAt += skew;
      if (rt.catchUpUntil !== null) rt.catchUpUntil += skew;
      if (rt.record && (!this.#singleFlight.shouldRun || this.#singleFlight.shouldRun(rt.fabric.id))) {
        this.#shiftStored(rt.fabric.id, skew).catch((error: unknown) => this.#reportError('storage', toError(error), rt.fabric.id));
      }
    }
    this.#emit('clock:jump', { skewMs: skew, at: now });
  }

  async #shiftStored(id: string, skew: number): Promise<void> {
    const shift = (v: number | null) => (v === null ? null : v + skew);
    const written = await this.#update(id, (current) =>
      current
        ? { definition: current.definition, state: { ...current.state, anchorAt: shift(current.state.anchorAt), lastSlotAt: shift(current.state.lastSlotAt), nextSyncAt: shift(current.state.nextSyncAt) } }
        : null,
    );
    const rt = this.#fabrics.get(id);
    if (rt && written) rt.record = written;
  }

  /**
   * Read-modify-write with compare-and-set: `mutate` gets the freshest record it can and returns
   * the new value, or null to write nothing. Retries on conflict.
   */
  #update(
    id: string,
    mutate: (current: FabricRecord | undefined) => { definition: Fabric; state: FabricState } | null,
  ): FabricRecord | undefined | Promise<FabricRecord | undefined> {
    // Fast path: the cached record, and a storage that answers synchronously (MemoryStorage), keep
    // a run's claim in the same turn as its timer, so a burst of due fabrics starts one by one.
    const cached = this.#fabrics.get(id)?.record;
    if (cached !== undefined) {
      const next = mutate(cached);
      if (next) {
        const written = this.#storage.write(id, next, cached.version);
        if (!isThenable(written)) return written.ok ? this.#cache(id, written.record) : this.#updateSlow(id, mutate, written.current);
        return written.then((r) => (r.ok ? this.#cache(id, r.record) : this.#updateSlow(id, mutate, r.current)));
      }
    }
    return this.#updateSlow(id, mutate, undefined);
  }

  #cache(id: string, record: FabricRecord): FabricRecord {
    const rt = this.#fabrics.get(id);
    if (rt) rt.record = record;
    return record;
  }

  /** The read-modify-write loop from a fresh read (or from `current`, just returned by a failed write). */
  async #updateSlow(
    id: string,
    mutate: (current: FabricRecord | undefined) => { definition: Fabric; state: FabricState } | null,
    current: FabricRecord | undefined,
  ): Promise<FabricRecord | undefined> {
    if (current === undefined) current = await this.#storage.get(id).catch(startOver);
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      const next = mutate(current);
      if (!next) return undefined;
      const result = await this.#storage.write(id, next, current?.version ?? null);
      if (result.ok) return this.#cache(id, result.record);
      current = result.current;
    }
    return undefined;
  }

  #serialize<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#ops.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#ops.set(id, tail);
    void tail.then(() => {
      if (this.#ops.get(id) === tail) this.#ops.delete(id);
    });
    return next;
  }

  #toStatus(record: FabricRecord, now: number): FabricStatus {
    return fabricStatusOf(record, now, this.#pausedFabric(record.definition), this.#fabrics.get(record.definition.id)?.lastLateness ?? null);
  }

  #checkTransition(id: string, from: SyncStatus, to: SyncStatus): void {
    assertTransition(id, from, to);
  }

  #emitStatus(fabricId: string, from: SyncStatus, to: SyncStatus, at: number): void {
    if (from !== to && this.listenerCount('status:changed') > 0) this.#emit('status:changed', { fabricId, from, to, at });
  }

  #reportError(operation: string, error: Error, fabricId?: string): void {
    this.#emit('error', fabricId === undefined ? { error, operation } : { error, operation, fabricId });
  }

  /**
   * Emits to every listener in turn; a listener that throws is reported as an `error` event
   * (operation `'listener'`) and neither stops the others nor the scheduler.
   */
  #emit<E extends keyof SchedulerEvents>(event: E, payload: Parameters<SchedulerEvents[E]>[0]): void {
    if (event.startsWith('sync:')) this.#observe(event, payload);
    if (this.listenerCount(event) === 0) return;
    const listeners = this.listeners(event) as Array<(p: typeof payload) => void>;
    for (const listener of listeners) {
      try {
        listener.call(this, payload);
      } catch (error) {
        if (event !== 'error') this.#reportError('listener', toError(error), (payload as { fabricId?: string }).fabricId);
      }
    }
  }
}

const OK: Outcome = Object.freeze({ kind: 'ok' });

/** The executor's `ctx`: `signal` is created lazily, on first read. */
class RunContext implements SyncContext {
  readonly scheduledAt: number;
  readonly attempt: number;
  readonly trigger: SyncTrigger;
  readonly #run: Run;
  constructor(run: Run, readonly fencingToken: number) {
    this.#run = run;
    this.scheduledAt = run.scheduledAt;
    this.attempt = run.attempt;
    this.trigger = run.trigger;
  }
  get signal(): AbortSignal {
    const run = this.#run;
    if (!run.controller) {
      run.controller = new AbortController();
      if (run.abortedWith !== undefined) run.controller.abort(run.abortedWith);
    }
    return run.controller.signal;
  }
}

/** Aborts the run's signal (now, or when it is first read). */
function abortRunSignal(run: Run, reason: unknown): void {
  if (run.abortedWith !== undefined) return;
  run.abortedWith = reason ?? new Error('aborted');
  run.controller?.abort(run.abortedWith);
}

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** Inside read-modify-write an unreadable record reads as absent, so a create replaces it (the fabric starts over). */
function startOver(error: unknown): undefined {
  if (error instanceof CorruptStateError) return undefined;
  throw error;
}

/**
 * The reader's view of a stored record (what `getFabricStatus` returns): `out_of_sync` derived
 * from `lastSyncAt`, no next sync for a disabled fabric. Shared by the scheduler and the CLI.
 */
export function fabricStatusOf(record: FabricRecord, now: number, paused: boolean, lastLateness: number | null): FabricStatus {
  const s = record.state;
  const d = record.definition;
  return {
    id: d.id,
    status: effectiveStatus(s.status, s.lastSyncAt, d.syncInterval, now),
    lastSyncAt: s.lastSyncAt,
    lastAttemptAt: s.lastAttemptAt,
    nextSyncAt: d.enabled ? s.nextSyncAt : null,
    lastError: s.lastError,
    consecutiveFailures: s.consecutiveFailures,
    syncInterval: d.syncInterval,
    enabled: d.enabled,
    queue: d.queue,
    paused,
    lastLateness,
  };
}

/** Creates a {@link Scheduler}. Options are validated at once (`InvalidOptionError`). */
export function createScheduler(options: SchedulerOptions): Scheduler {
  return new Scheduler(options);
}

/** First slot of the grid `anchor + k * interval` at or after `t`. */
export function slotAtOrAfter(anchor: number, interval: number, t: number): number {
  if (t <= anchor) return anchor;
  return anchor + Math.ceil((t - anchor) / interval) * interval;
}

function normalizeStop(options: StopOptions | undefined, defaults: Required<StopOptions>, name: string): Required<StopOptions> {
  if (options === undefined) return { ...defaults };
  if (options === null || typeof options !== 'object') throw new InvalidOptionError(name, 'an object', options);
  const inFlight = options.inFlight ?? defaults.inFlight;
  if (inFlight !== 'wait' && inFlight !== 'abort') throw new InvalidOptionError(`${name}.inFlight`, "'wait' or 'abort'", options.inFlight);
  return { inFlight, drainTimeout: durationOption(`${name}.drainTimeout`, options.drainTimeout, defaults.drainTimeout, { allowZero: true }) };
}

function newQueue(name: string, options: { concurrency: number; priority: number }): Queue {
  return { name, concurrency: options.concurrency, priority: options.priority, backlog: new DueQueue<Run>(), inFlight: 0, stats: new RunStats() };
}
