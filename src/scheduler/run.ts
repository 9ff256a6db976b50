/**
 * One run, start to end: acquire the fabric's lease -> claim the slot in storage (fencing token
 * + 1) -> invoke the executor (timeout, lease loss, abort) -> record the outcome -> release.
 * Every storage and lock call is bounded by `operationTimeout`; `execute` never rejects.
 */
import { ClockSkewError, SyncAbortedError, SyncTimeoutError, toError } from '../errors.js';
import type { FailureReason, SkipReason, SyncResult, SyncTrigger } from '../events.js';
import type { Lease } from '../single-flight.js';
import { initialState, type FabricRecord } from '../storage/types.js';
import { isThenable, type ClaimWrite } from './cas.js';
import { acquireBounded, leaseLost, releaseLease } from './leases.js';
import { RunContext, abortRunSignal } from './run-context.js';
import { emitStatus, reportSkipped, type Core } from './core.js';
import type { FabricRuntime } from './fabric-runtime.js';
import type { Queue } from './lanes.js';
import { claimHeldBack } from './breaker.js';
import { singleFlightMembership } from './stand-down.js';
import { claimState, restoreState } from './transitions.js';
import { record } from './outcome.js';

/** A run waiting for its turn or in flight. */
export interface Run {
  readonly rt: FabricRuntime;
  /** The slot served (a retry: its failed slot; manual: the request time); may be re-planned while queued. */
  scheduledAt: number;
  trigger: SyncTrigger;
  readonly attempt: number;
  /** When the run was due: lateness is measured from it, and the backlog drains in its order. */
  queuedAt: number;
  /** The queue it waits and runs in (fixed when the run is made). */
  readonly queue: Queue;
  /** Its index among the runs in flight (`RunningSet`), -1 while not in flight. */
  lane: number;
  /** `syncNow` callers waiting for the outcome (allocated only for them). */
  waiters?: Array<(result: SyncResult) => void>;
  /** Created on first read of `ctx.signal`. */
  controller?: AbortController;
  /** Why the run's signal was aborted, kept for a signal first read after the abort. */
  abortedWith?: unknown;
  abortReason?: SyncAbortedError['reason'];
  /** Set while the executor runs: ends the run with an outcome (the first one wins). */
  settle?: ((this: Run, outcome: Outcome) => void) | undefined;
  /** The outcome, once settled. */
  outcome?: Outcome | undefined;
  /** Resolves the wait of a run whose executor answered with a promise. */
  wake?: ((outcome: Outcome) => void) | undefined;
  /** Stops the run's timeout / lease-loss watch (set only when there is one). */
  cancelTimeout?: (() => void) | undefined;
  unwatch?: (() => void) | undefined;
  /** Set when the executor is invoked: the slot served then (a later wall step renames `scheduledAt`, not the events' slot), its start, lateness and token. */
  startedSlot?: number;
  startedAt?: number;
  startedMono?: number;
  lateness?: number;
  fencingToken?: number;
  done?: Promise<void>;
  /** Set when the run was not made: the fabric just waits for its next slot. */
  skipped?: boolean;
  /** Why it was not made (with `skipped`). */
  skipReason?: SkipReason;
  /** Made to serve a pending sync request: claims only while one is still pending (see requests.ts). */
  forRequest?: boolean;
  /**
   * Set when the run's slot was not served because its lease turned out lost after the lock was
   * taken (the claim was refused as lease-lost, or the lease ran out before the executor started,
   * e.g. a stalled process): the slot is tried again shortly, or reported missed.
   */
  givenBack?: boolean;
  /** Set when a failed run's retry is due (written with the outcome). */
  retryAt?: number | null;
  /** The run's lease while its executor runs, when it can expire (`ctx.signal` checks it on read). */
  lease?: Lease;
}

export type Outcome = { kind: 'ok' } | { kind: 'fail'; error: Error; reason: FailureReason };

const OK: Outcome = Object.freeze({ kind: 'ok' });

export function newRun(rt: FabricRuntime, queue: Queue, scheduledAt: number, trigger: SyncTrigger, attempt: number, dueAt = scheduledAt): Run {
  const run: Run = { rt, scheduledAt, trigger, attempt, queuedAt: dueAt, queue, lane: -1 };
  rt.run = run;
  return run;
}

/** Cuts a run short: a queued run is dropped when it would begin, a running one settles now. */
export function abortRun(run: Run, reason: SyncAbortedError['reason']): void {
  if (run.abortReason) return;
  run.abortReason = reason;
  const error = new SyncAbortedError(run.rt.fabric.id, reason);
  abortRunSignal(run, error);
  run.settle?.({ kind: 'fail', reason: 'aborted', error });
}

/**
 * Runs one run to its end (lease released). Never rejects. Synchronous all the way (no promise,
 * `undefined`) when the lock, the storage and the executor all answer synchronously.
 */
export function executeRun(core: Core, run: Run): void | Promise<void> {
  const id = run.rt.fabric.id;
  // Standing down (clock skew): no lock, no claim, but a probe now and then.
  if (!core.standDown.mayTry(core)) return skip(core, run, 'unavailable');
  let acquired: Lease | undefined | Promise<Lease | undefined>;
  try {
    acquired = acquireBounded(core, id);
  } catch (error) {
    return lockFailed(core, run, error);
  }
  if (!isThenable<Lease | undefined>(acquired)) return withLease(core, run, acquired);
  return acquired.then(
    (lease) => {
      // Time passed while the lock was on its way: look for a wall step before the claim.
      if (lease) core.observeClock();
      return withLease(core, run, lease);
    },
    (error: unknown) => lockFailed(core, run, error),
  );
}

function lockFailed(core: Core, run: Run, error: unknown): void {
  core.reportError('lock', error, run.rt.fabric.id);
  skip(core, run, 'unavailable');
}

/** Claims, invokes and records with `lease` held, then releases it (whatever happened). */
function withLease(core: Core, run: Run, lease: Lease | undefined): void | Promise<void> {
  if (!lease) return skip(core, run, 'locked');
  const id = run.rt.fabric.id;
  let pending: void | Promise<void> = undefined;
  try {
    pending = claimAndInvoke(core, run, lease);
  } catch (error) {
    core.reportError('run', error, id);
  }
  if (!pending) return releaseLease(core, lease, id);
  return pending.then(
    () => releaseLease(core, lease, id),
    (error: unknown) => {
      core.reportError('run', error, id);
      return releaseLease(core, lease, id);
    },
  );
}

function skip(core: Core, run: Run, reason: Parameters<typeof reportSkipped>[2]): void {
  reportSkipped(core, run, reason);
  // The fabric waits for its next slot (armed once the run's lease is released).
  run.skipped = true;
  run.skipReason = reason;
}

/** Whether the run may still start its executor (checked after every wait). */
function mayStart(core: Core, run: Run, lease: Lease): boolean {
  const rt = run.rt;
  return !rt.removed && rt.fabric.enabled && core.lifecycle() === 'running' && !run.abortReason && !leaseLost(lease) && rt.tracked;
}


/**
 * What a claim learnt, carried to the run's next steps (no closure per run). It is also what the
 * storage writes get (`options.claim`: the lease and the claimer's time) and where a storage's
 * refusal lands (`refused`).
 */
interface Claim extends ClaimWrite {
  startedAt: number;
  /** The monotonic reading `startedAt` was taken from. */
  mono: number;
  generation: number;
  from: FabricRecord['state']['status'];
  declined: 'already-claimed' | 'cancelled' | 'breaker';
  attempt: FabricRecord['state'] | undefined;
  written: number | undefined;
  /**
   * True while the claim is answered in the claimer's turn (no time passed since `mono`): the
   * mutator and the executor's start reuse that reading. False once the answer is awaited.
   */
  inTurn: boolean;
}

function claimAndInvoke(core: Core, run: Run, lease: Lease): void | Promise<void> {
  const rt = run.rt;
  const id = rt.fabric.id;
  if (!mayStart(core, run, lease)) return skip(core, run, leaseLost(lease) ? 'locked' : 'cancelled');
  const mono = core.time.mono();
  const startedAt = core.time.wallAt(mono);
  // The lease goes with the claim: a storage that can check it refuses a claim whose lock is gone.
  const c: Claim = { startedAt, mono, generation: core.time.generation, from: 'never_synced', declined: 'cancelled', attempt: undefined, written: undefined, inTurn: true, options: { claim: { lease, at: startedAt } } };
  let claim: FabricRecord | undefined | Promise<FabricRecord | undefined>;
  try {
    claim = core.io.update(
      id,
      (stored) => {
        // The record is gone while this scheduler still has the fabric (the storage lost its
        // data): re-register it from what this scheduler knows.
        const current = rt.view(stored) ?? (rt.removed ? undefined : { definition: rt.fabric, state: rt.record ? rt.record.state : initialState(), version: 0 });
        if (!current) return null;
        c.attempt = current.state;
        // A request served already, or the failure breaker's probe not due (breaker.ts).
        const held = claimHeldBack(core.opts.breaker, current, run);
        if (held !== null) { c.declined = held; return null; }
        if (!c.inTurn) {
          // A retry after a read: now, on the grid's current time scale (a wall step may have been seen meanwhile).
          c.mono = core.time.mono();
          c.startedAt = core.time.wallAt(c.mono);
          c.options.claim.at = c.startedAt;
          c.generation = core.time.generation;
        }
        const result = claimState(current, current.definition, { trigger: run.trigger, scheduledAt: run.scheduledAt, startedAt: c.startedAt });
        if (!result.ok) {
          c.declined = result.reason;
          return null;
        }
        c.from = result.from;
        run.scheduledAt = result.slot;
        c.written = result.state.fencingToken;
        return { definition: current.definition, state: result.state };
      },
      rt.record,
      c,
    );
  } catch (error) {
    return claimFailed(core, run, c, error);
  }
  if (!isThenable<FabricRecord | undefined>(claim)) return claimed(core, run, lease, c, claim);
  c.inTurn = false;
  return claim.then(
    (record) => claimed(core, run, lease, c, record),
    (error: unknown) => claimFailed(core, run, c, error),
  );
}

function claimFailed(core: Core, run: Run, c: Claim, error: unknown): void {
  // The write may still land (a timed-out call cannot be cancelled): remember it as a ghost.
  if (c.written !== undefined && c.attempt) run.rt.ghostClaim = { token: c.written, basis: c.attempt };
  core.reportError('storage', error, run.rt.fabric.id);
  if (error instanceof ClockSkewError) core.standDown.enter(core, () => singleFlightMembership(core, 'stop'));
  skip(core, run, 'unavailable');
}

function claimed(core: Core, run: Run, lease: Lease, c: Claim, record: FabricRecord | undefined): void | Promise<void> {
  const rt = run.rt;
  if (record) {
    rt.ghostClaim = null;
    if (core.standDown.active) core.standDown.leave(() => singleFlightMembership(core, 'start'));
  }
  if (c.refused === 'removed') {
    // Removed by another scheduler sharing the storage (a tombstone), not lost: stop here too.
    core.removedElsewhere(rt.fabric.id);
    return skip(core, run, 'cancelled');
  }
  if (c.refused === 'lease-lost') {
    // The lock is not ours (any more): held by another replica, or gone (expired, deleted). The
    // slot is tried again shortly: a holder elsewhere makes that attempt 'locked'; a lock that is
    // simply gone lets it run.
    run.givenBack = true;
    return skip(core, run, 'locked');
  }
  if (!record) return skip(core, run, c.declined);
  // A wall step seen while the claim was on its way renamed the run's slot: its start too.
  const moved = core.time.movedSince(c.generation);
  rt.cacheWritten(record, moved, core.gauges);
  if (!mayStart(core, run, lease)) {
    return restore(core, run, record, c.attempt).then(() => {
      // Lease lost after the claim: nobody else holds the slot (it was given back); not 'locked'.
      if (!leaseLost(lease)) return skip(core, run, 'cancelled');
      run.givenBack = true;
      skip(core, run, 'unavailable');
    });
  }
  return invoke(core, run, lease, record, c.from, c.startedAt + moved, c.inTurn ? c.mono : core.time.mono());
}

/** `run.settle`: the first outcome wins; wakes a run waiting for it. */
function settleRun(this: Run, outcome: Outcome): void {
  if (this.outcome !== undefined) return;
  this.outcome = outcome;
  const wake = this.wake;
  if (wake) {
    this.wake = undefined;
    wake(outcome);
  }
}

function invoke(core: Core, run: Run, lease: Lease, claimed: FabricRecord, from: FabricRecord['state']['status'], startedAt: number, startedMono: number): void | Promise<void> {
  const rt = run.rt;
  const id = rt.fabric.id;
  const fencingToken = claimed.state.fencingToken;
  run.settle = settleRun;
  run.startedSlot = run.scheduledAt;
  run.startedAt = startedAt;
  run.fencingToken = fencingToken;
  run.lateness = startedAt - run.queuedAt;
  run.startedMono = startedMono;
  rt.lastLateness = run.lateness;
  core.metrics.started(run.queue, run.trigger, run.lateness);
  emitStatus(core, id, from, 'syncing', startedAt);
  if (core.hasListeners('sync:started')) core.emit('sync:started', { fabricId: id, scheduledAt: run.scheduledAt, startedAt, lateness: run.lateness, attempt: run.attempt, fencingToken, trigger: run.trigger });
  if (typeof lease.remaining === 'function') run.lease = lease;
  const leaseSignal = lease.signal;
  if (leaseSignal) {
    const onLeaseLost = (): void => {
      abortRunSignal(run, leaseSignal.reason);
      run.settle?.({ kind: 'fail', reason: 'lock-lost', error: new SyncAbortedError(id, 'lock-lost', { cause: leaseSignal.reason }) });
    };
    run.unwatch = () => leaseSignal.removeEventListener('abort', onLeaseLost);
    if (leaseSignal.aborted) onLeaseLost();
    else leaseSignal.addEventListener('abort', onLeaseLost, { once: true });
  }
  const timeoutMs = rt.fabric.syncTimeout;
  if (timeoutMs > 0) {
    run.cancelTimeout = core.time.after(timeoutMs, () => {
      const error = new SyncTimeoutError(id, timeoutMs);
      abortRunSignal(run, error);
      run.settle?.({ kind: 'fail', reason: 'timeout', error });
    });
  }
  if (run.abortReason) run.settle({ kind: 'fail', reason: 'aborted', error: new SyncAbortedError(id, run.abortReason) });
  try {
    const value = core.opts.executor(rt.fabric, new RunContext(run, fencingToken));
    if (isThenable(value)) value.then(() => run.settle?.(OK), (error: unknown) => run.settle?.({ kind: 'fail', reason: 'error', error: toError(error) }));
    else run.settle(OK);
  } catch (error) {
    run.settle({ kind: 'fail', reason: 'error', error: toError(error) });
  }
  // A synchronous executor has settled already: the run goes on in this turn, with no promise.
  if (run.outcome !== undefined) return finish(core, run, run.outcome);
  return new Promise<Outcome>((resolve) => (run.wake = resolve)).then((outcome) => finish(core, run, outcome));
}

function finish(core: Core, run: Run, outcome: Outcome): void | Promise<void> {
  core.observeClock();
  run.settle = undefined;
  run.cancelTimeout?.();
  run.cancelTimeout = undefined;
  run.unwatch?.();
  run.unwatch = undefined;
  return record(core, run, outcome);
}

/** Undoes a claim whose executor never started, giving its slot back. */
async function restore(core: Core, run: Run, claimed: FabricRecord, basis: FabricRecord['state'] | undefined): Promise<void> {
  const token = claimed.state.fencingToken;
  const now = core.time.now();
  try {
    await core.io.update(run.rt.fabric.id, (current) => {
      const next = restoreState(run.rt.view(current), token, now, basis);
      return next ? { definition: current!.definition, state: next.state } : null;
    }, claimed);
  } catch (error) {
    core.reportError('storage', error, run.rt.fabric.id);
  }
}
