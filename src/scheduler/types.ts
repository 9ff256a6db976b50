/**
 * Public types of the scheduler that are neither options nor events: what the executor gets,
 * what readers see, and the shapes of the state check.
 */
import type { Fabric } from '../definition.js';
import type { StateIssueKind, SyncTrigger } from '../events.js';
import type { SyncStatus } from '../status.js';
import type { BreakerState } from './breaker.js';

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

/** What {@link Scheduler.pause} and {@link Scheduler.resume} apply to (nothing: the whole scheduler). */
export type PauseTarget = { queue: string } | { fabric: string };

/** Options of {@link Scheduler.validate} and {@link Scheduler.repair}. */
export interface ValidateOptions {
  /**
   * Every fabric id the host defines; stored records for other ids are reported as
   * `'undefined-fabric'` (and deleted by `repair()`). An array, Set or other iterable of
   * strings; a single string is refused (it would read as its characters).
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
  /** Milliseconds between slots; null for a calendar fabric. */
  syncInterval: number | null;
  /** The calendar schedule (zone defaulted), or null for an interval fabric. */
  schedule: { readonly cron: string; readonly timeZone: string } | null;
  /** The rule for humans: `'every 60000 ms'`, `'every 60000 ms at offset 1234 ms'`, `'cron "0 2 * * 1-5" in Europe/Berlin'`. */
  cadence: string;
  enabled: boolean;
  /** The queue its runs wait in. */
  queue: string;
  /** Paused itself, or through its queue or the whole scheduler (as this scheduler knows it). */
  paused: boolean;
  /** Start minus slot time of the last run this scheduler started, ms (null if none). */
  lastLateness: number | null;
  /**
   * Present only while the fabric is behind the failure breaker (option `breaker`): its
   * consecutive failures, the wait between probes and the next probe (epoch ms).
   */
  breaker?: BreakerState;
  /** Present while a sync requested with `requestSync` (or the CLI) waits to be served: when, epoch ms. */
  requestedAt?: number;
}

/** What {@link Scheduler.upsertFabrics} did: how many fabrics it added, updated, and found unchanged (not written). */
export interface UpsertCounts {
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
}
