import type { Fabric } from '../definition.js';
import type { SyncStatus } from '../status.js';

/** What the scheduler keeps about a fabric between runs (and across restarts). */
export interface FabricState {
  /** Stored status (readers derive `out_of_sync` from `lastSyncAt`). */
  status: SyncStatus;
  /** Last successful sync finished, epoch ms. */
  lastSyncAt: number | null;
  /** Last run started, epoch ms. */
  lastAttemptAt: number | null;
  lastError: string | null;
  consecutiveFailures: number;
  /** Grid anchor: slot k is due at `anchorAt + k * syncInterval`. */
  anchorAt: number | null;
  /** Latest grid slot claimed by a run (served or being served), epoch ms. */
  lastSlotAt: number | null;
  /** Next slot the scheduler intends to run, epoch ms. */
  nextSyncAt: number | null;
  /** Last fencing token handed to an executor for this fabric; strictly increasing. */
  fencingToken: number;
}

/** One stored fabric: definition, state and the compare-and-set version. */
export interface FabricRecord {
  readonly definition: Fabric;
  readonly state: Readonly<FabricState>;
  /** Bumped by the storage on every successful write; used for compare-and-set. */
  readonly version: number;
}

/** What a caller hands to {@link Storage.write}. */
export interface FabricWrite {
  definition: Fabric;
  state: FabricState;
}

/** The outcome of a compare-and-set write. */
export type WriteResult =
  | { readonly ok: true; readonly record: FabricRecord }
  | { readonly ok: false; readonly current: FabricRecord | undefined };

/** An unreadable record found by {@link Storage.list}. */
export interface CorruptRecord {
  readonly id: string;
  readonly raw: unknown;
  readonly reason: string;
}

/**
 * The Storage port. Every adapter (memory, Redis, …) passes the shared contract suite in
 * `test/storage-contract.ts`.
 *
 * All writes are compare-and-set on `version`: `expectedVersion` is the version the caller
 * read, or `null` for "must not exist yet". A write whose expectation fails changes nothing and
 * returns the current record.
 */
export interface Storage {
  /** The record, `undefined` when absent. Throws {@link CorruptStateError} when unreadable. */
  get(id: string): Promise<FabricRecord | undefined>;
  /** Every readable record, plus the ids of unreadable ones. Order is unspecified. */
  list(): Promise<{ records: FabricRecord[]; corrupt: CorruptRecord[] }>;
  /**
   * Compare-and-set write of a whole record. May answer synchronously (MemoryStorage does): the
   * scheduler then claims a run in the same turn as its timer.
   */
  write(id: string, value: FabricWrite, expectedVersion: number | null): WriteResult | Promise<WriteResult>;
  /** Deletes the record; true when it existed. With `expectedVersion`, only if it still matches. */
  delete(id: string, expectedVersion?: number): Promise<boolean>;
  /** Releases connections the adapter opened itself (never the host's clients). */
  close?(): Promise<void>;
}

/** A fresh state for a fabric that has never been seen. */
export function initialState(): FabricState {
  return {
    status: 'never_synced',
    lastSyncAt: null,
    lastAttemptAt: null,
    lastError: null,
    consecutiveFailures: 0,
    anchorAt: null,
    lastSlotAt: null,
    nextSyncAt: null,
    fencingToken: 0,
  };
}
