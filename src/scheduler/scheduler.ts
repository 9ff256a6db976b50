/**
 * The facade: public methods and the lifecycle (idle -> starting -> running -> stopping -> idle).
 * Everything else lives in the modules it wires together: options, time, cas (storage I/O),
 * dispatcher (arming and runs), lanes, run, pauses, housekeeper, state-check, metrics-observer.
 */
import { EventEmitter } from 'eventemitter3';
import type { Fabric, FabricDefinition } from '../definition.js';
import { InvalidOptionError, StorageError } from '../errors.js';
import type { SchedulerEvents, SyncResult } from '../events.js';
import type { MetricsSnapshot } from '../metrics.js';
import { CONTROL_RECORD_ID, loadControl } from '../ops/control.js';
import type { FabricRecord } from '../storage/types.js';
import { StorageIO } from './cas.js';
import { emitStatus, skippedResult, type Core, type Lifecycle } from './core.js';
import { StandDown, singleFlightMembership } from './stand-down.js';
import { Dispatcher } from './dispatcher.js';
import type { FabricRuntime } from './fabric-runtime.js';
import { safeEmitter } from './emitter.js';
import { fabricStatusOf, listStatuses } from './fabric-status.js';
import { FabricGauges } from './gauges.js';
import { OpChains } from './op-chains.js';
import { Housekeeper } from './housekeeper.js';
import { Lanes } from './lanes.js';
import { loadStored } from './load.js';
import { RunMetrics } from './metrics-observer.js';
import { normalizeOptions, normalizeStop, type ResolvedOptions, type SchedulerOptions, type StopOptions } from './options.js';
import { PauseControl, Pauses } from './pauses.js';
import { newRun } from './run.js';
import { checkState, type StateCheckDeps } from './state-check.js';
import { SchedulerTime } from './time.js';
import { upsertState } from './transitions.js';
import type { FabricStatus, PauseTarget, StateReport, UpsertCounts, ValidateOptions } from './types.js';
import { applyUpserted, checkDefinition, upsertMany, validateAll as upsertManyCheck } from './upsert.js';
import { reconcileWith, type ReconcileResult } from './reconcile.js';
import { drain } from './drain.js';
import { readFabricHistory, type HistoryQuery, type RunHistoryEntry } from './history.js';
import { manualRun, manualRuntime } from './manual.js';
import { requestSync as requestSyncOf, type SyncRequestOutcome } from './requests.js';

/**
 * The scheduler: keeps every fabric syncing on its fixed-rate grid. Create it with
 * {@link createScheduler}.
 */
export class Scheduler extends EventEmitter<SchedulerEvents> {
  readonly #opts: ResolvedOptions;
  readonly #core: Core;
  readonly #lanes: Lanes;
  readonly #dispatcher: Dispatcher;
  readonly #housekeeper: Housekeeper;
  readonly #pauseControl: PauseControl;
  readonly #check: StateCheckDeps;
  /** Per-fabric chains that serialize upserts/removals of the same id (each step bounded). */
  readonly #ops = new OpChains();
  #state: Lifecycle = 'idle';
  #startPromise: Promise<void> | undefined;
  /** Whether this scheduler told its single-flight it runs on it (see `SingleFlight.start`). */
  #joined = false;
  #stopPromise: Promise<void> | undefined;

  constructor(options: SchedulerOptions) {
    super();
    const opts = (this.#opts = normalizeOptions(options));
    const time = new SchedulerTime(opts.clock, opts.clockJumpThreshold, opts.clockSteps);
    const fabrics = new Map<string, FabricRuntime>();
    const gauges = new FabricGauges(this, fabrics, opts.breaker, () => time.now());
    // The runtime last found for a record seen: a run's claim and outcome are written for the
    // same fabric one after the other. Still the table's while tracked (one runtime per id).
    let seenRt: FabricRuntime | undefined;
    const io = new StorageIO(opts.storage, time, opts.operationTimeout, (record: FabricRecord) => {
      const id = record.definition.id;
      const rt = seenRt !== undefined && seenRt.tracked && seenRt.fabric.id === id ? seenRt : (seenRt = fabrics.get(id));
      rt?.cache(record, gauges);
    });
    const { emit, reportError } = safeEmitter(this);
    const lanes = (this.#lanes = new Lanes(opts.queues, opts.maxConcurrentSyncs, time));
    const pauses = new Pauses();
    const metrics = new RunMetrics(opts.meterProvider, {
      queues: () => lanes.queues(),
      fabrics: () => gauges.values(time.now()),
      isQueuePaused: (name) => pauses.isQueuePaused(name),
    });
    this.#core = { opts, time, io, emit, reportError, metrics, pauses, fabrics, gauges, hasListeners: (e) => this.listenerCount(e) > 0, lifecycle: () => this.#state, observeClock: () => this.#dispatcher.observeClock(), removedElsewhere: (id) => this.#dispatcher.removedElsewhere(id), standDown: new StandDown() };
    this.#dispatcher = new Dispatcher(this.#core, lanes);
    this.#check = {
      io,
      singleFlight: opts.singleFlight,
      lockTtl: opts.lockTtl,
      now: () => time.now(),
      hasQueue: (name) => lanes.has(name),
      isRunningHere: (id) => fabrics.get(id)?.run !== undefined,
      removeFabric: (id) => this.removeFabric(id),
      statusChanged: (id, from, to, at) => emitStatus(this.#core, id, from, to, at),
      repaired: (event) => emit('state:repaired', event),
      reportError,
    };
    this.#pauseControl = new PauseControl(this.#core, this.#dispatcher, lanes);
    this.#housekeeper = new Housekeeper(this.#core, this.#dispatcher, { applyControl: (d, r) => this.#pauseControl.apply(d, r) }, this.#check);
  }

  /** True between `start()` resolving and `stop()` being called. */
  get running(): boolean {
    return this.#state === 'running';
  }

  /** Runs in flight in this scheduler. */
  get inFlightCount(): number {
    return this.#lanes.running.size;
  }

  /** Runs waiting for a concurrency slot (every queue). */
  get backlogSize(): number {
    return this.#lanes.backlogSize;
  }

  /** The configured queue names (`'default'` first). */
  get queueNames(): string[] {
    return this.#lanes.names();
  }

  /**
   * Loads every fabric the storage holds and starts scheduling. Never-synced fabrics sync at
   * once; the others resume on their grid, with `missedRunPolicy` applied to what was missed.
   * Fabrics upserted while it loads sync at once too.
   */
  start(): Promise<void> {
    if (this.#state === 'running') return Promise.resolve();
    if (this.#state === 'starting') return this.#startPromise!;
    if (this.#state === 'stopping') return this.#stopPromise!.then(() => this.start());
    this.#state = 'starting';
    this.#startPromise = this.#load().catch((error: unknown) => {
      if (this.#state === 'starting') this.#state = 'idle';
      throw error;
    });
    return this.#startPromise;
  }

  async #load(): Promise<void> {
    const core = this.#core;
    void this.#housekeeper.reportWarnings();
    await this.#housekeeper.openFeed(); // before the listing: nothing written meanwhile is missed
    if (!(await loadStored(core, this.#dispatcher, () => this.#state === 'starting'))) return; // stop() came first
    const control = await core.io.bound('read', loadControl(core.io.storage), CONTROL_RECORD_ID);
    if (this.#state !== 'starting') return; // stop() came first
    this.#pauseControl.adopt(control, false);
    // Running from here on, synchronously. Every fabric has its runtime now, so a wall step is
    // looked for once for all of them; then each is armed (those upserted during the load too).
    this.#state = 'running';
    this.#joined = true;
    core.standDown.reset();
    void singleFlightMembership(core, 'start');
    this.#dispatcher.observeClock();
    const now = core.time.now();
    core.metrics.attach();
    for (const rt of core.fabrics.values()) {
      if (!this.#dispatcher.isArmed(rt) && !rt.run) this.#dispatcher.armNext(rt, now);
      this.#dispatcher.settle(rt, now);
    }
    this.#housekeeper.arm();
  }

  /**
   * Stops scheduling: clears every timer and the backlog, then waits for or aborts running
   * syncs (see {@link StopOptions}). Nothing runs afterwards. Settles within `drainTimeout` plus
   * `operationTimeout`, whatever the executor and the storage do. Safe to call twice or before start.
   */
  stop(options: StopOptions = {}): Promise<void> {
    const opts = normalizeStop(options, this.#opts.shutdown, 'stop options');
    if (this.#state === 'idle') return this.#stopPromise ?? Promise.resolve();
    if (this.#state === 'stopping') return this.#stopPromise!;
    const starting = this.#state === 'starting' ? this.#startPromise! : undefined;
    this.#state = 'stopping';
    this.#stopPromise = this.#drain(opts, starting).finally(() => {
      this.#state = 'idle';
    });
    return this.#stopPromise;
  }

  async #drain(opts: Readonly<Required<StopOptions>>, starting: Promise<void> | undefined): Promise<void> {
    await drain(this.#core, { dispatcher: this.#dispatcher, housekeeper: this.#housekeeper, lanes: this.#lanes }, opts, starting);
    if (this.#joined) {
      this.#joined = false;
      // A scheduler standing down has left already.
      if (!this.#core.standDown.active) await singleFlightMembership(this.#core, 'stop');
    }
    this.#core.gauges.clear();
  }


  /**
   * Adds a fabric or updates its definition; refuses bad input with `InvalidFabricError` and
   * changes nothing then. Takes effect at once: a new or newly enabled fabric syncs now, a new
   * interval re-anchors the grid at the last slot served, disabling aborts a running sync.
   */
  async upsertFabric(definition: FabricDefinition): Promise<FabricStatus> {
    const fabric = checkDefinition(this.#core, this.#lanes, definition);
    return this.#ops.run(fabric.id, async () => {
      const core = this.#core;
      this.#dispatcher.noteDefined(fabric.id);
      this.#dispatcher.observeClock();
      let generation = core.time.generation;
      let change: ReturnType<typeof upsertState> | undefined;
      // From the cached record when there is one: with a storage that writes synchronously the
      // whole update, and the apply below, happen in this turn (no wall step can slip between).
      const update = core.io.update(fabric.id, (current) => {
        generation = core.time.generation;
        change = upsertState(core.fabrics.get(fabric.id)?.view(current) ?? current, fabric, core.time.now());
        return { definition: fabric, state: change.state };
      }, core.fabrics.get(fabric.id)?.record);
      const written = update instanceof Promise ? await update : update;
      if (!written || !change) throw new StorageError('write', `could not update fabric ${JSON.stringify(fabric.id)}: it kept changing under us`, { fabricId: fabric.id });
      const record = applyUpserted(core, this.#dispatcher, fabric, written, change, generation);
      return this.#toStatus(record, core.time.now());
    });
  }

  /**
   * Adds or updates many fabrics at once (a host starting with 100k+ fabrics). Every definition
   * is validated first: one bad definition refuses the whole batch with `InvalidFabricError`
   * (its `field` names the index, `definitions[3].syncInterval`; a repeated id is refused too) and
   * nothing changes. Then each fabric takes effect as with {@link Scheduler.upsertFabric}, except
   * that a definition equal to the stored one is not written again; new and changed ones go to
   * the storage in one round trip per 10,000 where it has `writeMany` (else one write each). The batch is
   * not atomic against the storage: a storage failure may leave part of it written (call again).
   * Resolves to counts: `{ added, updated, unchanged }`.
   */
  async upsertFabrics(definitions: readonly FabricDefinition[]): Promise<UpsertCounts> {
    // Validated before waiting for anything, so a bad batch is refused at once.
    const { fabrics, ids } = upsertManyCheck(this.#core, this.#lanes, definitions);
    return this.#upsertChecked(fabrics, ids);
  }

  #upsertChecked(fabrics: readonly Fabric[], ids: ReadonlySet<string> = new Set(fabrics.map((f) => f.id))): Promise<UpsertCounts> {
    return this.#ops.runMany(
      ids,
      () => upsertMany(this.#core, this.#dispatcher, fabrics, (id) => this.#dispatcher.noteDefined(id)),
    );
  }

  /**
   * Makes the stored set of fabrics (this scheduler's storage and prefix) equal to `definitions`,
   * the full set from the host's source of truth: fabrics not stored are added, those whose
   * normalized definition differs are updated, stored ones not in the set are removed (through
   * this scheduler: every replica sharing the storage follows within its housekeeping interval).
   * Validated all or nothing first (`InvalidFabricError` naming `definitions[i].field`; nothing
   * changed). Idempotent: after a storage failure it rejects with the `StorageError`, and calling
   * it again converges. When replicas call it with different sets, the last call wins. Resolves
   * to the ids changed, `{ added, updated, removed }`, each sorted.
   */
  async reconcile(definitions: readonly FabricDefinition[]): Promise<ReconcileResult> {
    const { fabrics } = upsertManyCheck(this.#core, this.#lanes, definitions);
    return reconcileWith(this.#core.io, fabrics, (f) => this.#upsertChecked(f), (id) => this.removeFabric(id));
  }

  /**
   * Removes a fabric: its timer is cancelled, a running sync aborted, its record deleted. Final
   * for this scheduler. Resolves to false when no such fabric existed.
   */
  async removeFabric(id: string): Promise<boolean> {
    if (typeof id !== 'string') throw new InvalidOptionError('id', 'a string', id);
    if (id === CONTROL_RECORD_ID) return false;
    return this.#ops.run(id, async () => {
      const rt = this.#core.fabrics.get(id);
      if (rt) this.#dispatcher.remove(rt);
      else this.#dispatcher.noteRemoval(id);
      const existed = await this.#core.io.delete(id);
      if (existed || rt) this.#core.emit('fabric:removed', { fabricId: id });
      return existed || rt !== undefined;
    });
  }

  /**
   * Runs a fabric now, outside the grid (the grid is kept). Resolves with the run's outcome;
   * `{ status: 'skipped', reason: 'in-flight' }` when the fabric's executor is running or a run of
   * it waits for a lane. A run whose executor has ended is waited for (it is only recording its
   * outcome and releasing its lock), so `await syncNow(id)` twice in a row runs twice.
   */
  async syncNow(id: string): Promise<SyncResult> {
    let rt = await this.#runtimeOf(id, 'syncNow');
    for (let ending = rt.run; ending?.outcome !== undefined && ending.done; ending = rt.run) {
      await ending.done;
      rt = await this.#runtimeOf(id, 'syncNow');
    }
    return manualRun(this.#core, this.#dispatcher, this.#lanes, rt);
  }

  /**
   * Asks for a sync; resolves at once: `'started'` (idle: a manual run starts now), `'queued'`
   * (syncing here or on another replica, or paused: one follow-up run when that run ends or on
   * resume) or `'coalesced'` (a request was pending). Any run that starts after the request
   * satisfies it; stored with the fabric, whoever runs it serves it. Errors as `syncNow`.
   */
  async requestSync(id: string): Promise<SyncRequestOutcome> {
    const rt = await this.#runtimeOf(id, 'requestSync');
    return requestSyncOf(this.#core, this.#dispatcher, rt);
  }

  /** The runtime of an enabled fabric for a manual run; the typed errors of `syncNow` otherwise. */
  #runtimeOf(id: string, operation: string): Promise<FabricRuntime> {
    return manualRuntime({ core: this.#core, dispatcher: this.#dispatcher, ops: this.#ops, running: () => this.#state === 'running' }, id, operation);
  }

  /** The fabric's status read from storage (so it reflects other replicas); undefined when unknown. */
  async getFabricStatus(id: string): Promise<FabricStatus | undefined> {
    if (typeof id !== 'string') throw new InvalidOptionError('id', 'a string', id);
    if (id === CONTROL_RECORD_ID) return undefined;
    const record = await this.#core.io.get(id);
    return record ? this.#toStatus(record, this.#core.time.now()) : undefined;
  }

  /** Every stored fabric's status, sorted by id. */
  async listFabrics(): Promise<FabricStatus[]> {
    const now = this.#core.time.now();
    return listStatuses(this.#core.io.listPages(), (r) => this.#toStatus(r, now));
  }

  /** The fabric's last runs of every replica, newest first, from the storage (see history.ts); `[]` when unknown. */
  getFabricHistory(id: string, options?: HistoryQuery): Promise<RunHistoryEntry[]> {
    return readFabricHistory(this.#core, id, options);
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
    await this.#pauseControl.set(target, true);
  }

  /**
   * Lifts a pause made with {@link Scheduler.pause} (same target). Slots that came due while
   * paused follow `missedRunPolicy` (counted as missed with reason `'paused'`).
   */
  async resume(target?: PauseTarget): Promise<void> {
    await this.#pauseControl.set(target, false);
  }

  /** What is paused, as this scheduler knows it (its own pauses at once, other replicas' within `housekeepingInterval`). */
  pauses(): { scheduler: boolean; queues: string[]; fabrics: string[] } {
    return this.#core.pauses.summary();
  }

  /**
   * Drops every run waiting for a lane in `queue` (every queue when omitted): queued scheduled,
   * catch-up, retry and manual runs end as skipped `'cancelled'` and each fabric waits for its
   * next grid slot (the grid is untouched; dropped slots count as missed `'cleared'`). Runs in
   * flight are not affected. Returns the number of runs dropped.
   */
  clearBacklog(queue?: string): number {
    if (queue !== undefined && !this.#lanes.has(queue)) throw new InvalidOptionError('queue', `one of the configured queues: ${this.#queueList()}`, queue);
    const now = this.#core.time.now();
    const count = this.#dispatcher.clearBacklog(queue, now);
    this.#core.emit('backlog:cleared', queue === undefined ? { count, at: now } : { queue, count, at: now });
    return count;
  }

  /**
   * A snapshot of run metrics: counters since the scheduler was created (runs, successes,
   * failures, timeouts, skips, missed slots, by reason), gauges now (in flight, backlog, fabrics by
   * status), lateness and duration histograms; in total and per queue. The same figures go to
   * OpenTelemetry instruments (see `METRIC_NAMES`).
   */
  metrics(): MetricsSnapshot {
    return this.#core.metrics.snapshot(this.#core.time.now(), this.running, this.#core.pauses.schedulerPaused);
  }

  /**
   * Checks the stored state: fabrics `syncing` with no live claim (judged by the single-flight: a
   * lock it can take is held by nobody), `nextSyncAt` off the fabric's grid, records for fabrics
   * not in `definedIds` (only when given), fabrics naming a queue not configured here, and
   * unreadable records. Changes nothing; see {@link Scheduler.repair}.
   */
  async validate(options: ValidateOptions = {}): Promise<StateReport> {
    return checkState(this.#check, options, false);
  }

  /**
   * {@link Scheduler.validate}, then fixes what can be fixed: stale `syncing` goes back to the
   * status its history implies, an off-grid `nextSyncAt` to the next slot of its grid, records of
   * undefined fabrics and unreadable records are deleted. Unknown queues are only reported.
   */
  async repair(options: ValidateOptions = {}): Promise<StateReport> {
    return checkState(this.#check, options, true);
  }

  #queueList(): string {
    return this.#lanes.names().map((q) => JSON.stringify(q)).join(', ');
  }

  #toStatus(record: FabricRecord, now: number): FabricStatus {
    const rt = this.#core.fabrics.get(record.definition.id);
    return fabricStatusOf(record, now, this.#core.pauses.isPaused(record.definition), rt?.lastLateness ?? null, this.#opts.breaker);
  }
}

/** Creates a {@link Scheduler}. Options are validated at once (`InvalidOptionError`). */
export function createScheduler(options: SchedulerOptions): Scheduler {
  return new Scheduler(options);
}
