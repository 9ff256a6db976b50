/**
 * An invariant checker that listens to the public events of one or more schedulers (sharing one
 * storage) and records every broken promise. For tests and simulations.
 */
import type { EventEmitter } from 'eventemitter3';
import type { SchedulerEvents, SyncFailedEvent, SyncStartedEvent, SyncTrigger } from '../events.js';
import type { Fabric } from '../definition.js';
import { cadenceOf } from '../scheduler/cadence.js';
import { canTransition } from '../status.js';

/** The invariants the checker knows. */
export type InvariantName =
  /** Two runs of one fabric at once (a run ends at its `sync:succeeded`/`sync:failed`). */
  | 'no-overlap'
  /**
   * A `schedule`/`catch-up` run started for a (fabric, slot) already served that way on the same
   * grid (a `fabric:added`, or a status change out of `disabled`, anchors a new grid).
   */
  | 'slot-once'
  /** A `schedule`/`catch-up` run started before its slot (`startedAt < scheduledAt`). */
  | 'never-early'
  /** A `status:changed` the transition table does not allow. */
  | 'legal-transition'
  /** A fencing token not strictly above every earlier one of the fabric. */
  | 'fencing-rises'
  /** A run started on a scheduler after its own `fabric:removed`, with no `fabric:added` anywhere since. */
  | 'removed-stays-removed'
  /** A `retry` run started before the `nextRetryAt` of the failure before it. */
  | 'retry-backoff'
  /** A run ended (`sync:succeeded`/`sync:failed`) that was never started. */
  | 'run-ends-once'
  /** A fabric expected to run did not start within the window (see {@link InvariantChecker.checkLiveness}). */
  | 'liveness'
  /**
   * A `schedule`/`catch-up` run of a calendar or spread fabric served neither a point of its
   * cadence (an occurrence of its rule, a point of its offset grid) nor the first slot of its grid
   * (its first run after being added or re-enabled). Checked only with
   * {@link InvariantCheckerOptions.definitionOf}.
   */
  | 'on-cadence';

export const INVARIANTS: readonly InvariantName[] = Object.freeze([
  'no-overlap', 'slot-once', 'never-early', 'legal-transition', 'fencing-rises', 'removed-stays-removed', 'retry-backoff', 'run-ends-once', 'liveness', 'on-cadence',
]);

/** One broken promise. */
export interface Violation {
  /** One of {@link InvariantName}, or a name of the caller's own (see {@link InvariantChecker.report}). */
  invariant: InvariantName | (string & {});
  fabricId: string;
  detail: string;
  /** Epoch ms of the event that showed it (or the `now` given to a liveness check). */
  at: number;
}

/** One run as the checker saw it. */
export interface RunLogEntry {
  /** Label of the scheduler that ran it (see {@link AttachOptions.label}). */
  scheduler: string;
  trigger: SyncTrigger;
  scheduledAt: number;
  startedAt: number;
  attempt: number;
  fencingToken: number;
  finishedAt: number | null;
  outcome: 'succeeded' | 'failed' | null;
  /** For a failed run: why, and when its retry is due (`null`: the next slot). */
  reason?: SyncFailedEvent['reason'];
  nextRetryAt?: number | null;
}

export interface InvariantCheckerOptions {
  /**
   * Invariants to leave unchecked (e.g. `fencing-rises` and `slot-once` when the storage loses
   * writes on purpose).
   * @default []
   */
  ignore?: readonly (InvariantName | (string & {}))[];
  /**
   * Throw at once (from the event listener, which the scheduler reports as an `error` event)
   * instead of only recording. Mostly useful with a debugger.
   * @default false
   */
  throwOnViolation?: boolean;
  /**
   * Most runs kept per fabric in the run log (older ones are dropped; the checks do not need them).
   * @default 1_000
   */
  maxRunsPerFabric?: number;
  /**
   * Time base of liveness checks: each start is stamped with it and `checkLiveness(…, now)` takes
   * `now` on that scale. Give a monotonic reading (`() => clock.monotonic()`) when the wall clock
   * steps, so a step does not read as a stall or as a recent run.
   * @default the `startedAt` of the events (wall-clock epoch ms)
   */
  livenessClock?: () => number;
  /**
   * The fabric's normalized definition (`normalizeFabric`), for `on-cadence`: the slots of a
   * calendar or spread fabric are checked against its cadence. Undefined for a fabric: unchecked.
   * @default unchecked
   */
  definitionOf?: (fabricId: string) => Fabric | undefined;
}

export interface AttachOptions {
  /**
   * Name of the scheduler in the run log and violation details.
   * @default 's1', 's2', … in attach order
   */
  label?: string;
  /**
   * How the scheduler names slots after a wall-clock step (`clock:jump`): `'follow-steps'` when
   * the grid moves with the step (slot names, retry times and the checker's memory of served slots
   * shift by `skewMs`), `'fixed'` when slot names keep their scale.
   * @default 'follow-steps'
   */
  slotNames?: 'follow-steps' | 'fixed';
}

/** The subset of a scheduler the checker needs: its public events. */
export type CheckedScheduler = Pick<EventEmitter<SchedulerEvents>, 'on' | 'off'>;

export interface InvariantChecker {
  /** Subscribes to a scheduler's events; returns a function that unsubscribes. */
  attach(scheduler: CheckedScheduler, options?: AttachOptions): () => void;
  /** Every violation seen so far, oldest first. */
  readonly violations: readonly Violation[];
  /** Throws an Error listing every violation (the first 20 in full), if any. */
  assertNone(): void;
  /** The runs of a fabric seen so far, oldest first. */
  runsOf(fabricId: string): readonly RunLogEntry[];
  /** Every fabric id a run was seen for. */
  fabricIds(): string[];
  /** Start time of the latest run of the fabric (on the `livenessClock` scale), `undefined` if none. */
  lastStartOf(fabricId: string): number | undefined;
  /** True while a run of the fabric has started and not ended. */
  isRunning(fabricId: string): boolean;
  /**
   * Checks that every fabric of `ids` started a run within `windowMs` before `now` (on the
   * `livenessClock` scale), or is running now; records a `liveness` violation for each one that did not and returns them.
   */
  checkLiveness(ids: Iterable<string>, windowMs: number, now: number): Violation[];
  /** Records a violation found by the caller (e.g. a stop that did not settle). */
  report(violation: Violation): void;
  /**
   * Tells the checker the host defined `fabricId` again in a way the events may not show (an
   * `upsertFabric` that timed out may still have been written): removal marks are cleared.
   */
  defined(fabricId: string): void;
}

interface FabricTrack {
  runs: RunLogEntry[];
  /** Runs started and not ended, by fencing token. */
  active: Map<string, RunLogEntry>;
  /** Canonical names of slots served by schedule/catch-up runs. */
  served: Set<number>;
  maxToken: number;
  /** Schedulers (labels) that removed the fabric, with no `fabric:added` anywhere since. */
  removedOn: Set<string>;
  /** Canonical time of the last failure's retry (null: none planned). */
  retryAt: number | null;
  lastStart: number | undefined;
  /** Canonical name of the first slot of the current grid (off the cadence's points); undefined until served. */
  anchor: number | undefined;
}

/**
 * Creates a checker. Attach every scheduler that shares the storage, drive the system, then call
 * `assertNone()` (after every step, in a simulation).
 *
 * @example
 * const checker = createInvariantChecker();
 * checker.attach(scheduler);
 * await clock.tickAsync(60_000);
 * checker.assertNone();
 */
export function createInvariantChecker(options: InvariantCheckerOptions = {}): InvariantChecker {
  const ignored = new Set(options.ignore ?? []);
  const maxRuns = options.maxRunsPerFabric ?? 1_000;
  const violations: Violation[] = [];
  const fabrics = new Map<string, FabricTrack>();
  let attached = 0;

  const track = (id: string): FabricTrack => {
    let t = fabrics.get(id);
    if (!t) {
      t = { runs: [], active: new Map(), served: new Set(), maxToken: Number.NEGATIVE_INFINITY, removedOn: new Set(), retryAt: null, lastStart: undefined, anchor: undefined };
      fabrics.set(id, t);
    }
    return t;
  };

  const report = (v: Violation): void => {
    if (ignored.has(v.invariant)) return;
    violations.push(v);
    if (options.throwOnViolation) throw new Error(`Invariant ${v.invariant} broken for ${v.fabricId}: ${v.detail}`);
  };

  /** A new grid (new fabric, re-enabled): slots served on the old one do not count, nor its backoff. */
  const regrid = (id: string): void => {
    const t = track(id);
    t.served.clear();
    t.retryAt = null;
    t.anchor = undefined;
  };

  const runKey = (label: string, e: SyncStartedEvent) => `${label}#${e.fencingToken}#${e.startedAt}`;

  const checker: InvariantChecker = {
    attach(scheduler, attachOptions = {}) {
      const label = attachOptions.label ?? `s${++attached}`;
      const follow = (attachOptions.slotNames ?? 'follow-steps') === 'follow-steps';
      /** Sum of the wall-clock steps this scheduler reported (canonical = reported - offset). */
      let offset = 0;
      const canon = (t: number) => (follow ? t - offset : t);

      const onStarted = (e: SyncStartedEvent) => {
        const t = track(e.fabricId);
        const who = `${label} ${e.trigger} attempt ${e.attempt} slot ${e.scheduledAt} token ${e.fencingToken}`;
        for (const other of t.active.values()) {
          report({ invariant: 'no-overlap', fabricId: e.fabricId, at: e.startedAt, detail: `${who} started at ${e.startedAt} while ${other.scheduler} ${other.trigger} (slot ${other.scheduledAt}, token ${other.fencingToken}, started ${other.startedAt}) is running` });
        }
        if (e.trigger === 'schedule' || e.trigger === 'catch-up') {
          const slot = canon(e.scheduledAt);
          if (t.served.has(slot)) report({ invariant: 'slot-once', fabricId: e.fabricId, at: e.startedAt, detail: `${who} serves a slot already served` });
          t.served.add(slot);
          if (e.startedAt < e.scheduledAt) report({ invariant: 'never-early', fabricId: e.fabricId, at: e.startedAt, detail: `${who} started at ${e.startedAt}, ${e.scheduledAt - e.startedAt} ms early` });
          const definition = options.definitionOf?.(e.fabricId);
          // Slots are named on the scheduler's own time scale, where its cadence was computed.
          if (definition && cadenceOf(definition).isPoint(e.scheduledAt) === false) {
            if (t.anchor === undefined) t.anchor = slot;
            else if (t.anchor !== slot) report({ invariant: 'on-cadence', fabricId: e.fabricId, at: e.startedAt, detail: `${who} serves neither a slot of ${cadenceOf(definition).label} nor its grid's first slot (${t.anchor})` });
          }
        }
        if (e.trigger === 'retry' && t.retryAt !== null && canon(e.startedAt) < t.retryAt) {
          report({ invariant: 'retry-backoff', fabricId: e.fabricId, at: e.startedAt, detail: `${who} started at ${e.startedAt}, ${t.retryAt - canon(e.startedAt)} ms before its backoff ended` });
        }
        if (e.fencingToken <= t.maxToken) report({ invariant: 'fencing-rises', fabricId: e.fabricId, at: e.startedAt, detail: `${who}: token ${e.fencingToken} not above ${t.maxToken}` });
        t.maxToken = Math.max(t.maxToken, e.fencingToken);
        if (t.removedOn.has(label)) report({ invariant: 'removed-stays-removed', fabricId: e.fabricId, at: e.startedAt, detail: `${who} started after the fabric was removed there` });
        const entry: RunLogEntry = { scheduler: label, trigger: e.trigger, scheduledAt: e.scheduledAt, startedAt: e.startedAt, attempt: e.attempt, fencingToken: e.fencingToken, finishedAt: null, outcome: null };
        t.active.set(runKey(label, e), entry);
        t.runs.push(entry);
        if (t.runs.length > maxRuns) t.runs.shift();
        t.lastStart = options.livenessClock ? options.livenessClock() : e.startedAt;
      };

      const onEnded = (e: SyncStartedEvent & { finishedAt: number }, outcome: 'succeeded' | 'failed') => {
        const t = track(e.fabricId);
        const key = runKey(label, e);
        const entry = t.active.get(key);
        if (!entry) {
          report({ invariant: 'run-ends-once', fabricId: e.fabricId, at: e.finishedAt, detail: `${label} ${e.trigger} token ${e.fencingToken} ${outcome} without a running start` });
          return;
        }
        t.active.delete(key);
        entry.finishedAt = e.finishedAt;
        entry.outcome = outcome;
        if (outcome === 'failed') {
          const f = e as SyncFailedEvent;
          entry.reason = f.reason;
          // Cut short (disabled, removed, stopped, lock lost): the slot was not served; a later
          // run of it (the fabric re-enabled at once, another holder) is no repeat.
          if ((f.reason === 'aborted' || f.reason === 'lock-lost') && (e.trigger === 'schedule' || e.trigger === 'catch-up')) t.served.delete(canon(e.scheduledAt));
          entry.nextRetryAt = f.nextRetryAt;
          t.retryAt = f.nextRetryAt === null ? null : canon(f.nextRetryAt);
        } else t.retryAt = null;
      };

      const handlers: { [E in keyof SchedulerEvents]?: SchedulerEvents[E] } = {
        'sync:started': onStarted,
        'sync:succeeded': (e) => onEnded(e, 'succeeded'),
        'sync:failed': (e) => onEnded(e, 'failed'),
        'status:changed': (e) => {
          if (!canTransition(e.from, e.to)) report({ invariant: 'legal-transition', fabricId: e.fabricId, at: e.at, detail: `${label}: ${e.from} -> ${e.to}` });
          // Re-enabled: a new grid is anchored at once, so its slot names start afresh.
          if (e.from === 'disabled') regrid(e.fabricId);
        },
        'fabric:added': (e) => {
          // Adopted from another scheduler (remote): the host's own add is what resets the fabric.
          if (e.remote) return;
          track(e.fabricId).removedOn.clear();
          regrid(e.fabricId);
        },
        'fabric:removed': (e) => {
          track(e.fabricId).removedOn.add(label);
        },
        'clock:jump': (e) => {
          offset += e.skewMs;
        },
      };
      for (const [name, fn] of Object.entries(handlers)) scheduler.on(name as keyof SchedulerEvents, fn as never);
      return () => {
        for (const [name, fn] of Object.entries(handlers)) scheduler.off(name as keyof SchedulerEvents, fn as never);
      };
    },

    get violations() {
      return violations;
    },

    assertNone() {
      if (violations.length === 0) return;
      const lines = violations.slice(0, 20).map((v) => `  - [${v.invariant}] ${v.fabricId} at ${v.at}: ${v.detail}`);
      if (violations.length > 20) lines.push(`  … and ${violations.length - 20} more`);
      throw new Error(`${violations.length} invariant violation(s):\n${lines.join('\n')}`);
    },

    runsOf: (id) => fabrics.get(id)?.runs ?? [],
    fabricIds: () => [...fabrics.keys()].filter((id) => fabrics.get(id)!.runs.length > 0),
    lastStartOf: (id) => fabrics.get(id)?.lastStart,
    isRunning: (id) => (fabrics.get(id)?.active.size ?? 0) > 0,

    checkLiveness(ids, windowMs, now) {
      const found: Violation[] = [];
      for (const id of ids) {
        if (checker.isRunning(id)) continue;
        const last = checker.lastStartOf(id);
        if (last !== undefined && last >= now - windowMs) continue;
        const v: Violation = { invariant: 'liveness', fabricId: id, at: now, detail: `no run started within ${windowMs} ms before ${now} (last start: ${last ?? 'never'})` };
        found.push(v);
        report(v);
      }
      return found;
    },

    report,
    defined: (id) => fabrics.get(id)?.removedOn.clear(),
  };
  return checker;
}
