/**
 * Turns due wheel entries into runs and finished runs into the next entry: the per-fabric
 * arming (one entry per fabric on a wheel keyed by monotonic time), catch-up and retry planning
 * at each wake, pauses (hold/unhold), definition changes, removal, and wall-clock steps.
 */
import { sameTiming, type Fabric } from '../definition.js';
import type { FabricRecord } from '../storage/types.js';
import { TimingWheel } from '../wheel.js';
import { cadenceOf, jitterDelay, sameCadence } from './cadence.js';
import { planCatchUp, planWaited, slotAfter, type CatchUpRules } from './catch-up.js';
import { reportMissed, reportSkipped, type Core } from './core.js';
import { FabricRuntime, RECORD_KEPT_MS, type TimerKind } from './fabric-runtime.js';
import type { Lanes } from './lanes.js';
import { abortRun, executeRun, newRun, type Run } from './run.js';
import { movedRecord, observeClockSteps, persistShift } from './clock-steps.js';
import { checkFreshness, sweepFreshnessEvery } from './freshness.js';
import { sameSchedule } from './same-schedule.js';
import { serveRequest } from './requests.js';
import { armAfterRun, clearBacklog } from './after-run.js';
import { deferByBreaker } from './breaker.js';

/** Due entries served per microtask turn, and between two yields to the event loop (see {@link Dispatcher.#serve}). */
const DUE_CHUNK = 1024;
const YIELD_EVERY = 8 * DUE_CHUNK;
/** Runs begun from the synchronous end of another before the next one waits for a microtask. */
const MAX_SYNC_DEPTH = 32;

export class Dispatcher {
  readonly #core: Core;
  readonly #lanes: Lanes;
  readonly #wheel: TimingWheel<FabricRuntime>;
  /**
   * Ids the host removed through this scheduler and has not upserted here since: final for this
   * process, so neither a listing (start, housekeeping) nor a run elsewhere brings them back.
   */
  readonly #removed = new Set<string>();

  constructor(core: Core, lanes: Lanes) {
    this.#core = core;
    this.#lanes = lanes;
    lanes.onToken(() => { this.observeClock(); this.#pump(); });
    this.#wheel = new TimingWheel<FabricRuntime>({
      clock: core.opts.clock,
      now: () => core.time.mono(),
      onExpire: (due) => {
        this.#deferred = 0;
        this.observeClock();
        const now = core.time.now();
        sweepFreshnessEvery(core, now);
        this.#serve(due, 0, now);
      },
    });
  }

  /** The fabric's runtime, created (once per id) when absent. */
  ensure(fabric: Fabric, record: FabricRecord | undefined): FabricRuntime {
    let rt = this.#core.fabrics.get(fabric.id);
    if (!rt) {
      rt = new FabricRuntime(fabric, record);
      this.#core.gauges.add(rt);
    }
    return rt;
  }

  // ------------------------------------------------------------ arming

  cancel(rt: FabricRuntime): void {
    this.#wheel.cancel(rt);
  }

  /** Whether the fabric's one entry is armed. */
  isArmed(rt: FabricRuntime): boolean {
    return this.#wheel.isScheduled(rt);
  }

  /** Arms the fabric's one entry at `due` (wall), to serve `slot`. */
  arm(rt: FabricRuntime, kind: TimerKind, slot: number, attempt: number, due = slot): void {
    this.cancel(rt);
    rt.kind = kind;
    rt.slot = slot;
    rt.due = due;
    rt.attempt = attempt;
    rt.held = false;
    // The runtime is its own wheel entry (no allocation per arm).
    this.#wheel.schedule(rt, this.#core.time.deadlineOf(due), rt);
  }

  /** The queue a fabric's runs use. */
  queueOf(fabric: Fabric): ReturnType<Lanes['queueOf']> {
    return this.#lanes.queueOf(fabric);
  }

  /**
   * Arms the fabric's entry for the slot `next` (or the breaker's next probe): due at the slot, or
   * later by the fabric's jitter (deterministic per fabric and slot, always before the next slot).
   */
  armSlot(rt: FabricRuntime, next: number): void {
    // Behind the failure breaker: its next probe (a slot of its own) instead.
    const slot = deferByBreaker(this.#core, rt, next);
    const jitter = rt.fabric.jitter ?? this.#core.opts.jitter;
    if (jitter === 0 || !Number.isFinite(slot)) return this.arm(rt, 'slot', slot, 1);
    const gap = slotAfter(cadenceOf(rt.fabric), slot) - slot;
    this.arm(rt, 'slot', slot, 1, slot + Math.min(jitterDelay(rt.fabric.id, slot, jitter), gap - 1));
  }

  /** How the fabric's late slots are handled (its own fields, else the scheduler's). */
  #rules(fabric: Fabric): CatchUpRules {
    const o = this.#core.opts;
    return { policy: fabric.missedRunPolicy ?? o.missedRunPolicy, maxCatchUp: o.maxCatchUpRuns, window: fabric.catchUpWindow ?? o.catchUpWindow };
  }

  /** Arms an idle fabric's next slot from its stored state (on the stored grid); a pending sync request runs now. */
  armNext(rt: FabricRuntime, now: number): void {
    if (!rt.fabric.enabled || rt.removed || rt.run) return;
    if (this.#core.pauses.isPaused(rt.fabric)) return this.hold(rt);
    if (serveRequest(this.#core, this, rt, now)) return;
    // The cached record's numbers, read without making its object (start() arms every fabric).
    const anchorAt = rt.status === undefined ? null : rt.anchorAt;
    const lastSlotAt = anchorAt === null ? null : rt.lastSlotAt;
    let due: number;
    if (anchorAt === null) due = now;
    else if (lastSlotAt === null) due = Math.max(now, rt.nextSyncAt ?? now); // never run on this grid: its first run anchors it
    else due = deferByBreaker(this.#core, rt, cadenceOf(rt.fabric).slotAtOrAfter(anchorAt, lastSlotAt + 1));
    // Nothing came due while it was not scheduled (downtime, a pause): its next run is on time.
    if (due >= now) {
      rt.missedReason = 'late';
      if (lastSlotAt !== null) return this.armSlot(rt, due);
    }
    this.arm(rt, 'slot', due, 1);
  }

  /** Drops every entry and every waiting run (stop). */
  clear(): void {
    this.#wheel.clear();
    this.#lanes.clearTokenTimer();
    for (const run of this.#lanes.drain()) {
      run.rt.run = undefined;
      reportSkipped(this.#core, run, 'cancelled', false);
    }
  }

  /**
   * Serves due entries from `from` on, DUE_CHUNK at a time: the runs of one chunk finish their
   * microtasks before the next chunk begins (a million fabrics due at once never have a million
   * runs and their promises alive together). Every YIELD_EVERY entries the rest waits for a 0 ms
   * clock timer, so a huge burst does not hold the event loop (the host's I/O, its timers) for
   * its whole length; the time is read again there.
   */
  #serve(due: FabricRuntime[], from: number, now: number, sinceYield = 0): void {
    const end = Math.min(due.length, from + DUE_CHUNK);
    for (let i = from; i < end; i++) {
      const rt = due[i]!;
      // Re-armed while it waited for its chunk (a host call): the new entry serves it.
      if (from > 0 && this.isArmed(rt)) continue;
      this.#onTimer(rt, now);
    }
    if (end >= due.length) return;
    const served = sinceYield + (end - from);
    if (served < YIELD_EVERY) {
      queueMicrotask(() => this.#serve(due, end, now, served));
      return;
    }
    this.#core.opts.clock.setTimeout(() => {
      this.observeClock();
      this.#serve(due, end, this.#core.time.now());
    }, 0);
  }

  #onTimer(rt: FabricRuntime, now: number): void {
    const core = this.#core;
    if (rt.removed || !rt.fabric.enabled || core.lifecycle() !== 'running' || rt.run) return;
    checkFreshness(core, rt, now);
    if (core.pauses.isPaused(rt.fabric)) return this.hold(rt);
    const id = rt.fabric.id;
    const cadence = cadenceOf(rt.fabric);
    const shouldRun = core.opts.singleFlight.shouldRun;
    if (shouldRun && !shouldRun.call(core.opts.singleFlight, id)) {
      // Another replica is responsible: follow the grid quietly, touching neither lock nor storage.
      const anchor = rt.anchorAt ?? rt.slot;
      return this.armSlot(rt, cadence.slotAtOrAfter(anchor, Math.max(now, rt.slot) + 1));
    }
    const queue = this.#lanes.queueOf(rt.fabric);
    if (rt.kind === 'retry') return this.enqueue(newRun(rt, queue, rt.slot, 'retry', rt.attempt, rt.due));
    // A slot that came due while the fabric was not scheduled (downtime, a pause) is a catch-up,
    // however many others were missed with it; otherwise only a run that skips slots is.
    const resuming = rt.missedReason !== 'late';
    const window = rt.fabric.catchUpWindow ?? core.opts.catchUpWindow;
    if (now < slotAfter(cadence, rt.slot) && (window === Number.POSITIVE_INFINITY || rt.slot >= now - window)) {
      // On time (no later slot due yet, inside the catch-up window): what planCatchUp answers, without planning.
      rt.missedReason = 'late';
      rt.catchUpUntil = null;
      return this.enqueue(newRun(rt, queue, rt.slot, resuming ? 'catch-up' : 'schedule', 1));
    }
    const plan = planCatchUp(cadence, this.#rules(rt.fabric), rt.slot, now);
    reportMissed(core, id, queue, plan.expired, 'catch-up-window');
    reportMissed(core, id, queue, plan.missed, rt.missedReason);
    rt.missedReason = 'late';
    rt.catchUpUntil = plan.catchUpUntil;
    if (plan.serve === null) return this.armSlot(rt, plan.next);
    this.enqueue(newRun(rt, queue, plan.serve, plan.serve === rt.slot && plan.missed === null && !resuming ? 'schedule' : 'catch-up', 1));
  }

  // ------------------------------------------------------------ runs

  /** Starts `run` when a lane (and a token of its queue's rate limit) is free, else queues it. */
  enqueue(run: Run): void {
    if (this.#lanes.canBegin(run)) this.#begin(run);
    else this.#lanes.wait(run);
  }

  #pump(): void {
    const core = this.#core;
    while (core.lifecycle() === 'running') {
      const run = this.#lanes.next();
      if (!run) return this.#lanes.armTokenTimer();
      if ((run.trigger === 'schedule' || run.trigger === 'catch-up') && run.rt.catchUpUntil === null) {
        // Waited in the backlog: serve the latest slot that has come due, count the rest as missed.
        const waited = planWaited(cadenceOf(run.rt.fabric), run.scheduledAt, core.time.now());
        if (waited) {
          reportMissed(core, run.rt.fabric.id, run.queue, waited.missed, 'late');
          run.scheduledAt = waited.serve;
          run.trigger = 'catch-up';
        }
      }
      this.#begin(run);
    }
  }

  #begin(run: Run): void {
    this.#lanes.occupy(run);
    const ending = executeRun(this.#core, run);
    if (ending) {
      run.done = ending.then(() => this.#afterRun(run, true));
      return;
    }
    // Ended in this turn (lock, storage and executor all synchronous): no promise. A run begun
    // from another's end goes on in a microtask past a depth, so a long catch-up stays shallow;
    // every YIELD_EVERY of those, after a 0 ms clock timer (as a due burst does, see #serve), so
    // it does not hold the host's event loop for its whole length.
    if (this.#depth >= MAX_SYNC_DEPTH) {
      this.#deferred += MAX_SYNC_DEPTH;
      if (this.#deferred < YIELD_EVERY) {
        run.done = Promise.resolve().then(() => this.#afterRun(run, false));
        return;
      }
      this.#deferred = 0;
      run.done = new Promise<void>((resolve) => {
        this.#core.opts.clock.setTimeout(() => {
          this.#afterRun(run, true);
          resolve();
        }, 0);
      });
      return;
    }
    this.#depth++;
    try {
      this.#afterRun(run, false);
    } finally {
      this.#depth--;
    }
  }

  /** Runs begun synchronously from the end of another (see {@link #begin}). */
  #depth = 0;
  /** Runs of such chains gone on in microtasks since the event loop last turned (a wheel wake or a yield). */
  #deferred = 0;

  /**
   * After a run's lease is released: frees its lane and arms its fabric's next entry. Never
   * throws (a failure is reported). `waited`: the run awaited something (time passed since its
   * executor's end was observed).
   */
  #afterRun(run: Run, waited: boolean): void {
    const core = this.#core;
    try {
      // While the run is still attached to its runtime, so that a step renames its slot too.
      if (waited && core.lifecycle() === 'running') this.observeClock();
      this.#lanes.free(run);
      const rt = run.rt;
      if (rt.pendingShift) void persistShift(core, rt);
      if (rt.run === run) rt.run = undefined;
      if (core.lifecycle() !== 'running') return;
      const now = core.time.now();
      checkFreshness(core, rt, now);
      if (!rt.run && !this.isArmed(rt) && !rt.removed && rt.tracked) {
        const stored = rt.storedDefinition;
        // Another replica changed the definition meanwhile: follow it from here on.
        if (stored && !sameSchedule(stored, rt.fabric)) {
          this.apply(rt.record!, rt.fabric, now);
          core.emit('fabric:updated', { fabricId: rt.fabric.id, remote: true });
        } else if (rt.fabric.enabled) armAfterRun(this.#core, this, run, now);
      }
      this.settle(rt, now);
      this.#pump();
    } catch (error) {
      core.reportError('run', error, run.rt.fabric.id);
    }
  }

  /**
   * Drops an idle fabric's record object unless its next run is due within RECORD_KEPT_MS (see
   * FabricRuntime.release): after a run, and after `start()` armed it.
   */
  settle(rt: FabricRuntime, now: number): void {
    if (!rt.run && !(this.isArmed(rt) && rt.due - now <= RECORD_KEPT_MS)) rt.release();
  }

  // ------------------------------------------------------------ host changes

  /** Parks a paused fabric: no entry; a run waiting for a lane is dropped (skipped 'paused'). */
  hold(rt: FabricRuntime): void {
    this.cancel(rt);
    rt.held = true;
    rt.catchUpUntil = null;
    const run = rt.run;
    if (run && this.#lanes.unqueue(run)) {
      rt.run = undefined;
      reportSkipped(this.#core, run, 'paused');
    }
  }

  /** Re-arms a resumed fabric from its stored state: what came due meanwhile follows missedRunPolicy. */
  unhold(rt: FabricRuntime, now: number): void {
    rt.held = false;
    if (rt.run || rt.removed || !rt.fabric.enabled || this.#core.lifecycle() !== 'running') return;
    rt.missedReason = 'paused';
    this.armNext(rt, now);
  }

  /** Makes the runtime follow a freshly written or adopted record. */
  apply(record: FabricRecord, previous: Fabric | undefined, now: number): void {
    const existing = this.#core.fabrics.get(record.definition.id);
    const rt = existing ?? this.ensure(record.definition, record);
    const d = record.definition;
    const timingChanged = !existing || !previous || !sameCadence(previous, d) || previous.jitter !== d.jitter || previous.enabled !== d.enabled;
    rt.redefine(record.definition, this.#core.gauges);
    rt.cache(record, this.#core.gauges);
    if (!record.definition.enabled) {
      this.cancel(rt);
      rt.catchUpUntil = null;
      this.#dropRun(rt, 'disabled');
      return;
    }
    if ((timingChanged || !this.isArmed(rt)) && !rt.run && this.#core.lifecycle() === 'running') {
      rt.catchUpUntil = null;
      rt.missedReason = 'late';
      this.armNext(rt, now);
    }
  }

  /** Whether the host removed `id` through this scheduler (and has not upserted it here since). */
  isRemoved(id: string): boolean {
    return this.#removed.has(id);
  }

  /** Notes that the host removed `id` (whether or not it has a runtime here). */
  noteRemoval(id: string): void {
    this.#removed.add(id);
  }

  /** Notes that the host (re)defined `id` through this scheduler. */
  noteDefined(id: string): void {
    this.#removed.delete(id);
  }

  /** Forgets a fabric in this process: entry cancelled, waiting run dropped, running one aborted. */
  remove(rt: FabricRuntime): void {
    this.noteRemoval(rt.fabric.id);
    this.#forget(rt);
  }

  /**
   * A fabric another scheduler sharing the storage removed (its tombstone was seen): forgotten
   * here without touching the storage, and not marked as removed by the host (a later
   * definition written elsewhere is followed again).
   */
  removedElsewhere(id: string): void {
    const rt = this.#core.fabrics.get(id);
    if (!rt || rt.removed) return;
    this.#forget(rt);
    this.#core.emit('fabric:removed', { fabricId: id, remote: true });
  }

  #forget(rt: FabricRuntime): void {
    rt.removed = true;
    this.cancel(rt);
    this.#dropRun(rt, 'removed');
    this.#core.gauges.delete(rt);
  }

  #dropRun(rt: FabricRuntime, reason: 'removed' | 'disabled'): void {
    const run = rt.run;
    if (!run) return;
    if (this.#lanes.unqueue(run)) {
      rt.run = undefined;
      reportSkipped(this.#core, run, 'cancelled', false);
    } else abortRun(run, reason);
  }

  /** Drops every run waiting in `queue` (every queue when omitted); see {@link clearBacklog}. */
  clearBacklog(queue: string | undefined, now: number): number {
    return clearBacklog(this.#core, this, this.#lanes.drain(queue), now);
  }

  // ------------------------------------------------------------ wall-clock steps (clock-steps.ts)

  /** A record read before steps moved the grid, moved by `skew` (see {@link movedRecord}). */
  moved(record: FabricRecord, skew: number): FabricRecord {
    return movedRecord(this.#core, record, skew);
  }

  /** Looks for a wall-clock step (see {@link observeClockSteps}). */
  observeClock(): void {
    observeClockSteps(this.#core);
  }
}
