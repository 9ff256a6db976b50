import type { Fabric } from '../definition.js';
import type { Lease } from '../single-flight.js';
import type { SyncStatus } from '../status.js';
import type { HistoryAppend, RunHistoryEntry } from './history.js';

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
  /**
   * Optional: a sync requested (`scheduler.requestSync`, the CLI's `sync`) and not yet served,
   * epoch ms of the request; absent when none is pending. The claim of any run that starts
   * after it removes it; whoever runs the fabric serves it. A storage that drops it keeps
   * working, but requests are then served only by a run started at the request itself.
   */
  requestedAt?: number;
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

/**
 * Why a storage refused a claim although the version matched (see {@link WriteOptions.claim}):
 * - `lease-lost`: the storage checked the run's lease and it is not held (the lock expired or
 *   another holder took it);
 * - `removed`: the claim would re-create a record that was deleted (a tombstone is present):
 *   the fabric was removed elsewhere, not lost.
 */
export type ClaimRefusal = 'lease-lost' | 'removed';

/** One item of {@link Storage.writeMany}: the arguments of one {@link Storage.write}. */
export interface BatchWrite {
  readonly id: string;
  readonly value: FabricWrite;
  /** The version the caller read, or `null` for "must not exist yet". */
  readonly expectedVersion: number | null;
}

/** The outcome of a compare-and-set write. */
export type WriteResult =
  | { readonly ok: true; readonly record: FabricRecord }
  | { readonly ok: false; readonly current: FabricRecord | undefined; readonly refused?: ClaimRefusal };

/** What the scheduler tells a storage about a write that claims a run. */
export interface ClaimInfo {
  /**
   * The lease the run holds. A storage that can check it in the same atomic step as the write
   * (RedisStorage, for a `RedlockSingleFlight` lock on the same single Redis: `lease.proof`)
   * refuses the claim with `refused: 'lease-lost'` when the lock is not held by it.
   */
  readonly lease: Lease;
  /**
   * The claimer's wall time (epoch ms) the slot arithmetic used. A storage with a clock of its own
   * (RedisStorage: Redis `TIME`) may refuse a claim whose time is too far off its own by throwing
   * a `StorageError` (a replica whose clock disagrees stands down instead of moving the grid).
   */
  readonly at: number;
}

/**
 * Optional extras of {@link Storage.write}. Storages that ignore them stay correct: the
 * scheduler still checks the lease's signal and the version; these let a storage check more.
 */
export interface WriteOptions {
  /** Present when the write claims a run (its fencing token rises). */
  readonly claim?: ClaimInfo;
  /**
   * Present when the write records a run's outcome and the scheduler keeps run history (only
   * when the storage has {@link Storage.readHistory}): a storage that keeps history appends
   * `entry` to the fabric's history in the same atomic step as the write, only if the write
   * succeeds, and keeps the newest `keep` entries. Ignored by storages without history.
   */
  readonly history?: HistoryAppend;
}

/** One change a storage's change feed reports (see {@link Storage.changes}). */
export interface StorageChange {
  readonly id: string;
  /** `defined`: created or its definition changed; `removed`: deleted (a tombstone). */
  readonly kind: 'defined' | 'removed';
}

/** A page of the change feed. */
export interface ChangePage {
  /** Where the next call goes on from. Opaque to the caller. */
  readonly cursor: string;
  /** Changes after the given cursor, oldest first (at most the storage's page size). */
  readonly changes: readonly StorageChange[];
  /**
   * True when the given cursor was `null` or is no longer covered by the feed (it fell off a
   * capped log, or the storage lost its data): the caller must {@link Storage.list} everything
   * once, then go on from `cursor`.
   */
  readonly reset: boolean;
  /** True when more changes wait after this page (call again at once). */
  readonly more?: boolean;
}

/** An unreadable record found by {@link Storage.list}. */
export interface CorruptRecord {
  readonly id: string;
  readonly raw: unknown;
  readonly reason: string;
}

/** One page of {@link Storage.listPage}. */
export interface ListPage {
  readonly records: FabricRecord[];
  readonly corrupt: CorruptRecord[];
  /** Where the next page starts (hand it to the next call); null: this was the last page. */
  readonly cursor: string | null;
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
   * Optional: the listing a page at a time, about `limit` records from `cursor` (null: the
   * first page). Every record that exists for the whole listing is in at least one page
   * (MemoryStorage: exactly one; RedisStorage: SSCAN may repeat one when the set is resized
   * meanwhile, and a reader keeps the first it sees); one written or deleted meanwhile may be in a
   * page or in none (a scheduler learns of those from the change feed or its next listing). Each
   * answered cursor must differ from the one asked with. `start()`, the housekeeper's full
   * pass, `reconcile()`, `validate()` and `repair()` list with it, so that a million records are
   * never all objects at once (with `list()` they are, and they outlive the load in V8's old
   * space). Absent: `list()`.
   */
  listPage?(cursor: string | null, limit: number): Promise<ListPage>;
  /**
   * Compare-and-set write of a whole record. May answer synchronously (MemoryStorage does): the
   * scheduler then claims a run in the same turn as its timer.
   */
  write(id: string, value: FabricWrite, expectedVersion: number | null, options?: WriteOptions): WriteResult | Promise<WriteResult>;
  /**
   * Optional: many compare-and-set writes in one round trip (the scheduler's
   * `upsertFabrics`). Each item has exactly the semantics of {@link Storage.write} on its own
   * (its version is checked and bumped, a failed expectation returns the current record and
   * changes nothing); the batch is NOT atomic across items: some may succeed while others fail,
   * and readers may see a batch half applied. Answers one result per item, in order. Rejects
   * only when the storage cannot be reached, or when an item is refused the way `write` throws
   * (items before it may then be written). Absent: the scheduler falls back to one `write` per item.
   */
  writeMany?(writes: ReadonlyArray<BatchWrite>): Promise<WriteResult[]>;
  /**
   * Deletes the record; true when it existed. With `expectedVersion`, only if it still matches.
   * A storage with a change feed leaves a tombstone (reported as a `removed` change, and making
   * a claim that would re-create the record fail with `refused: 'removed'` until the host
   * writes the id again or the tombstone expires).
   */
  delete(id: string, expectedVersion?: number): Promise<boolean>;
  /**
   * Optional change feed: which records were defined (created, definition changed) or removed
   * since `cursor`. Writes that change only the state (claims, outcomes) are not reported,
   * except those that set or clear a sync request (`state.requestedAt`), reported as `defined`
   * so the replica that runs the fabric learns of the request.
   * With it, schedulers learn of other replicas' changes by reading the feed instead of listing
   * every record each `housekeepingInterval` (a full listing then runs only after a reset and
   * every `fullScanInterval`). Absent: full listings, as before.
   */
  changes?(cursor: string | null): Promise<ChangePage>;
  /**
   * Optional run history: the newest `limit` entries appended through
   * {@link WriteOptions.history} for `id`, newest first (`[]` when there are none). Deleting the
   * record deletes its history. Absent: the scheduler keeps no history and
   * `getFabricHistory` throws a `HistoryUnsupportedError`.
   */
  readHistory?(id: string, limit: number): Promise<RunHistoryEntry[]>;
  /**
   * Optional: problems in the storage's setup that do not stop it working but may lose data
   * (RedisStorage: a `maxmemory-policy` that can evict syncwheel's keys). The scheduler asks
   * once per `start()` and reports each through its `error` event (operation `storage`).
   */
  warnings?(): Promise<readonly Error[]>;
  /** Releases connections the adapter opened itself (never the host's clients). */
  close?(): Promise<void>;
}

/**
 * A state with exactly the fields of {@link FabricState}, always in this order, so every state the
 * scheduler and MemoryStorage make shares one hidden class (a spread copy of a frozen state takes
 * a slow path and a shape of its own, and is read megamorphically after). `requestedAt` is set
 * only when it is a number.
 */
export function makeState(
  status: SyncStatus,
  lastSyncAt: number | null,
  lastAttemptAt: number | null,
  lastError: string | null,
  consecutiveFailures: number,
  anchorAt: number | null,
  lastSlotAt: number | null,
  nextSyncAt: number | null,
  fencingToken: number,
  requestedAt?: number,
): FabricState {
  const state: FabricState = { status, lastSyncAt, lastAttemptAt, lastError, consecutiveFailures, anchorAt, lastSlotAt, nextSyncAt, fencingToken };
  if (typeof requestedAt === 'number') state.requestedAt = requestedAt;
  return state;
}

/** A fresh state for a fabric that has never been seen. */
export function initialState(): FabricState {
  return makeState('never_synced', null, null, null, 0, null, null, null, 0);
}
