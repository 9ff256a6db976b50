/** The scheduler's in-memory view of one fabric and its one armed wheel entry. */
import type { Fabric } from '../definition.js';
import { SYNC_STATUSES, statusIndex, type SyncStatus } from '../status.js';
import { makeState, type FabricRecord, type FabricState } from '../storage/types.js';
import type { IntrusiveEntry } from '../wheel.js';
import type { FabricGauges } from './gauges.js';
import type { Run } from './run.js';
import { RuntimeFlags } from './runtime-flags.js';
import { shiftState } from './transitions.js';

export { MAX_ATTEMPT, type TimerKind } from './runtime-flags.js';

/** A grid move not yet written (see {@link FabricRuntime.pendingShift}). */
export interface PendingShift {
  readonly skew: number;
  readonly anchorAt: number | null;
  readonly lastSlotAt: number | null;
}


/**
 * A run's record object is kept for the fabric's next run when that is due within this many ms;
 * a later one makes the object again from the runtime's numbers (see {@link FabricRuntime.release}).
 * An object kept longer than about two young-generation collections (well under a second at
 * thousands of runs a second) is moved to V8's old space and dies there, so keeping the record
 * of every 60 s fabric cost a major collection's worth of garbage a minute at 1M fabrics;
 * making it again costs ~60 ns (1M in a warm loop).
 */
export const RECORD_KEPT_MS = 1_000;

// The runtime's numbers, by index in `FabricRuntime.#n`: the cached record's (NaN: null, or no
// request; STATUS -1: no record cached), then the armed entry's and the last run's.
const VERSION = 0;
const TOKEN = 1;
const LAST_SYNC = 2;
const LAST_ATTEMPT = 3;
const ANCHOR = 4;
const LAST_SLOT = 5;
const NEXT = 6;
const FAILURES = 7;
const REQUESTED = 8;
const STATUS = 9;
const SLOT = 10;
const DUE = 11;
const DUE_AT = 12;
const LATENESS = 13;

const orNull = (v: number): number | null => (v === v ? v : null);
const orNaN = (v: number | null | undefined): number => (typeof v === 'number' ? v : Number.NaN);

/** What few runtimes need, kept out of every runtime's own fields (made with the first). */
class Extra {
  /** The cached record's `lastError`. */
  lastError: string | null = null;
  /** The cached record's definition when it is not the runtime's `fabric` (another replica changed it). */
  stored: Fabric | undefined = undefined;
  catchUpUntil: number | null = null;
  pendingShift: PendingShift | null = null;
  ghostClaim: { readonly token: number; readonly basis: Readonly<FabricState> } | null = null;
}

/**
 * The scheduler's view of one fabric. It is also the fabric's one wheel entry (the wheel links
 * it into its slot through `dueAt`/`pos`/`prev`/`next`). A million of these have to fit in a few
 * hundred MB, and V8 boxes every double held in an object field (16 B and one more object for
 * the collector each): the runtime's numbers share one packed array of doubles, its small flags
 * one integer, and what few runtimes need one lazily made object.
 */
export class FabricRuntime extends RuntimeFlags implements IntrusiveEntry<FabricRuntime> {
  #fabric: Fabric;
  /**
   * The cached record as an object (see {@link record}) while a run or a change needs it; dropped
   * by {@link release}, since a record kept until the next run (a minute, say) would age into
   * V8's old space and die there: a million fabrics would leave a million records of old-space
   * garbage a minute. Between runs the record is kept as numbers in `#n`.
   */
  #record: FabricRecord | undefined = undefined;
  /** The runtime's numbers (see the indices above). */
  readonly #n: number[] = [0, 0, Number.NaN, Number.NaN, Number.NaN, Number.NaN, Number.NaN, 0, Number.NaN, -1, 0, 0, 0, Number.NaN];
  #extra: Extra | null = null;
  /** Queued or running. */
  run: Run | undefined = undefined;
  // The wheel entry (IntrusiveEntry): this runtime is its own item (see the `item` getter).
  pos = -1;
  prev: IntrusiveEntry<FabricRuntime> | null = null;
  next: IntrusiveEntry<FabricRuntime> | null = null;

  constructor(fabric: Fabric, record: FabricRecord | undefined) {
    super();
    this.#fabric = fabric;
    if (record) this.#keep(record);
  }

  #extraOf(): Extra {
    return (this.#extra ??= new Extra());
  }

  /** Grid slot the armed entry serves (a retry serves its failed slot), wall epoch ms. */
  get slot(): number {
    return this.#n[SLOT]!;
  }
  set slot(v: number) {
    this.#n[SLOT] = v;
  }

  /** When the armed entry is due, wall epoch ms (the slot; a retry: its backoff time). */
  get due(): number {
    return this.#n[DUE]!;
  }
  set due(v: number) {
    this.#n[DUE] = v;
  }

  /** The wheel entry's due time (the wheel's clock, see IntrusiveEntry). */
  get dueAt(): number {
    return this.#n[DUE_AT]!;
  }
  set dueAt(v: number) {
    this.#n[DUE_AT] = v;
  }

  /** Lateness of the last run this scheduler started, ms. */
  get lastLateness(): number | null {
    return orNull(this.#n[LATENESS]!);
  }
  set lastLateness(v: number | null) {
    this.#n[LATENESS] = orNaN(v);
  }

  /** With policy 'all': serve every slot up to this one back to back. */
  get catchUpUntil(): number | null {
    return this.#extra === null ? null : this.#extra.catchUpUntil;
  }
  set catchUpUntil(v: number | null) {
    if (v !== null || this.#extra !== null) this.#extraOf().catchUpUntil = v;
  }

  /**
   * A wall step (`'move-grid'`) already applied to `record` here but not yet to the stored
   * record: the total skew, and the stored grid it applies to (so it is applied once).
   */
  get pendingShift(): PendingShift | null {
    return this.#extra === null ? null : this.#extra.pendingShift;
  }
  set pendingShift(v: PendingShift | null) {
    if (v !== null || this.#extra !== null) this.#extraOf().pendingShift = v;
  }

  /**
   * A claim whose write failed or timed out: if it landed after all, the stored record carries
   * this token and `syncing` while nobody runs it, and the next claim starts from `basis` (the
   * state it was made from) instead of from the ghost's slot.
   */
  get ghostClaim(): { readonly token: number; readonly basis: Readonly<FabricState> } | null {
    return this.#extra === null ? null : this.#extra.ghostClaim;
  }
  set ghostClaim(v: { readonly token: number; readonly basis: Readonly<FabricState> } | null) {
    if (v !== null || this.#extra !== null) this.#extraOf().ghostClaim = v;
  }

  /** The cached record's grid anchor (as `record?.state.anchorAt`, without making the record). */
  get anchorAt(): number | null {
    const r = this.#record;
    return r !== undefined ? r.state.anchorAt : orNull(this.#n[ANCHOR]!);
  }

  /** The cached record's last slot served (as `record?.state.lastSlotAt`, without making the record). */
  get lastSlotAt(): number | null {
    const r = this.#record;
    return r !== undefined ? r.state.lastSlotAt : orNull(this.#n[LAST_SLOT]!);
  }

  /** The cached record's `nextSyncAt` (as `record?.state.nextSyncAt`, without making the record). */
  get nextSyncAt(): number | null {
    const r = this.#record;
    return r !== undefined ? r.state.nextSyncAt : orNull(this.#n[NEXT]!);
  }

  /** The cached record's pending sync request (as `record?.state.requestedAt`, null read as none, without making the record). */
  get requestedAt(): number | undefined {
    const v = this.#n[REQUESTED]!;
    return v === v ? v : undefined;
  }

  /** The definition this scheduler follows; changed by {@link redefine}. */
  get fabric(): Fabric {
    return this.#fabric;
  }

  /**
   * The freshest stored record this scheduler has seen (the compare-and-set base). Changed only
   * by {@link cache}, {@link cacheWritten} and {@link shift}, which tell the scheduler's gauges.
   */
  get record(): FabricRecord | undefined {
    const r = this.#record;
    if (r !== undefined) return r;
    const n = this.#n;
    const status = n[STATUS]!;
    if (status < 0) return undefined;
    const state = makeState(SYNC_STATUSES[status]!, orNull(n[LAST_SYNC]!), orNull(n[LAST_ATTEMPT]!), this.#extra === null ? null : this.#extra.lastError, n[FAILURES]!, orNull(n[ANCHOR]!), orNull(n[LAST_SLOT]!), orNull(n[NEXT]!), n[TOKEN]!, orNull(n[REQUESTED]!) ?? undefined);
    return (this.#record = Object.freeze({ definition: this.storedDefinition!, state: Object.freeze(state), version: n[VERSION]! }));
  }

  /** The cached record's last success (as `record?.state.lastSyncAt`, without making the record). */
  get lastSyncAt(): number | null {
    // From the record object while there is one: its number is boxed already (a double read
    // from the array is boxed anew each time it leaves an unoptimized caller).
    const r = this.#record;
    return r !== undefined ? r.state.lastSyncAt : orNull(this.#n[LAST_SYNC]!);
  }

  /** The cached record's status; undefined: no record cached (as `record?.state.status`, without making the record). */
  get status(): SyncStatus | undefined {
    const code = this.#n[STATUS]!;
    return code < 0 ? undefined : SYNC_STATUSES[code];
  }

  /** The cached record's definition (as `record?.definition`, without making the record). */
  get storedDefinition(): Fabric | undefined {
    if (this.#n[STATUS]! < 0) return undefined;
    const e = this.#extra;
    return e === null || e.stored === undefined ? this.#fabric : e.stored;
  }

  /** The cached record's consecutive failures (0 with none cached). */
  get consecutiveFailures(): number {
    return this.#n[FAILURES]!;
  }

  /**
   * Drops the cached record's object (it is made again from the numbers when next asked for):
   * called when a run is over and its fabric's next run is not due within {@link RECORD_KEPT_MS},
   * so that no record object lives from one run to the next.
   */
  release(): void {
    this.#record = undefined;
  }

  /** Takes `record` as the cached one: the object (until {@link release}) and its numbers. */
  #keep(record: FabricRecord): void {
    const s = record.state;
    const n = this.#n;
    n[VERSION] = record.version;
    n[TOKEN] = s.fencingToken;
    n[LAST_SYNC] = orNaN(s.lastSyncAt);
    n[LAST_ATTEMPT] = orNaN(s.lastAttemptAt);
    n[ANCHOR] = orNaN(s.anchorAt);
    n[LAST_SLOT] = orNaN(s.lastSlotAt);
    n[NEXT] = orNaN(s.nextSyncAt);
    n[FAILURES] = s.consecutiveFailures;
    n[REQUESTED] = orNaN(s.requestedAt);
    n[STATUS] = statusIndex(s.status);
    const stored = record.definition === this.#fabric ? undefined : record.definition;
    if (s.lastError !== null || stored !== undefined || this.#extra !== null) {
      const e = this.#extraOf();
      e.lastError = s.lastError;
      e.stored = stored;
    }
    this.#record = record;
  }

  /**
   * Whether `record` is older than the cached one (false with none cached), ordered by fencing
   * token, then version. Not by version alone: a storage that lost its data (Redis restarted
   * empty or from an older snapshot, a failover to a lagging replica) restarts a re-registered
   * record's version low, while its fencing tokens keep rising. By version, the runtime kept the
   * pre-loss record and measured every later run's missed slots from its old `lastSlotAt` (slots
   * that ran were reported missed, run after run).
   */
  isOlder(record: FabricRecord): boolean {
    const n = this.#n;
    if (n[STATUS]! < 0) return false;
    const a = record.state.fencingToken;
    const b = n[TOKEN]!;
    return a !== b ? a < b : record.version < n[VERSION]!;
  }

  /** Whether `record` has the cached one's fencing token and version. */
  #same(record: FabricRecord): boolean {
    const n = this.#n;
    return n[STATUS]! >= 0 && record.state.fencingToken === n[TOKEN] && record.version === n[VERSION];
  }

  /** Follows a new definition (and tells the gauges: enabled, staleness bound). */
  redefine(fabric: Fabric, gauges: FabricGauges): void {
    const old = this.#fabric;
    if (fabric !== old && this.#n[STATUS]! >= 0) {
      // The cached record's definition stays what it was (see storedDefinition).
      const e = this.#extra;
      const stored = e === null || e.stored === undefined ? old : e.stored;
      if (stored !== fabric || e !== null) this.#extraOf().stored = stored === fabric ? undefined : stored;
    }
    this.#fabric = fabric;
    gauges.changed(this);
  }

  /** As a wheel entry, the runtime is its own item. */
  get item(): FabricRuntime {
    return this;
  }

  /** Sets {@link stale} (checkFreshness, and the gauges when a change makes the fabric fresh) and tells the gauges. */
  setStale(v: boolean, gauges: FabricGauges): void {
    if (v === this.stale) return;
    this.setStaleFlag(v);
    gauges.staleFlipped(this, v);
  }

  /**
   * A record read from storage as this scheduler must see it: its own ghost claim (see
   * {@link ghostClaim}) as the state the claim was made from; while a grid move is pending and
   * the record is still on the grid it applies to (same anchor and last slot), moved by it.
   * Every compare-and-set mutator of this fabric reads through it, so what it writes is on
   * today's grid whether or not the move itself was written yet.
   */
  view<R extends FabricRecord | undefined>(record: R): R {
    const ghost = this.ghostClaim;
    if (ghost && record && record.state.fencingToken === ghost.token && record.state.status === 'syncing') {
      // This scheduler's own claim that failed landed after all, and nobody runs it.
      return { definition: record.definition, state: { ...ghost.basis, fencingToken: ghost.token }, version: record.version } as R;
    }
    const p = this.pendingShift;
    if (!p || !record || record.state.anchorAt !== p.anchorAt || record.state.lastSlotAt !== p.lastSlotAt) return record;
    return { definition: record.definition, state: shiftState(record.state, p.skew), version: record.version } as R;
  }

  /**
   * Takes a record read or written for this fabric as the cached one (seen through {@link view}),
   * unless it is older. A newer record the pending move does not apply to was written on today's
   * grid (every mutator reads through `view`): the move is done.
   */
  cache(record: FabricRecord, gauges: FabricGauges): void {
    // Cached already (the storage's answer seen twice: as written, and by the run that wrote it;
    // or a copy of the cached record: same fencing token and version).
    if (!this.pendingShift && (record === this.#record || this.#same(record))) return;
    if (this.isOlder(record) || (this.pendingShift && this.#same(record))) return;
    const seen = this.view(record);
    if (seen === record) this.pendingShift = null;
    this.#keep(seen);
    gauges.changed(this);
  }

  /**
   * Caches a record this scheduler wrote from a mutator that ran at time-scale `generation`:
   * when a wall step moved the grid while the write was on its way, the record is on the old
   * grid, so it is cached moved and the stored copy is left to {@link persistShift}.
   */
  cacheWritten(record: FabricRecord, movedSince: number, gauges: FabricGauges): void {
    if (movedSince === 0) return this.cache(record, gauges);
    if (this.isOlder(record)) return;
    this.pendingShift = { skew: movedSince, anchorAt: record.state.anchorAt, lastSlotAt: record.state.lastSlotAt };
    this.#keep({ definition: record.definition, state: shiftState(record.state, movedSince), version: record.version });
    gauges.changed(this);
  }

  /**
   * Renames every wall instant this runtime holds by a wall-clock step (`'move-grid'`): the armed
   * slot, the run, and the cached record (whose stored copy is moved by {@link persistShift}).
   */
  shift(skew: number, gauges: FabricGauges): void {
    if (this.ghostClaim) this.ghostClaim = { token: this.ghostClaim.token, basis: shiftState(this.ghostClaim.basis, skew) };
    const r = this.record;
    if (r) {
      const p = this.pendingShift;
      this.pendingShift = { skew: (p?.skew ?? 0) + skew, anchorAt: p ? p.anchorAt : r.state.anchorAt, lastSlotAt: p ? p.lastSlotAt : r.state.lastSlotAt };
      this.#keep({ definition: r.definition, state: shiftState(r.state, skew), version: r.version });
      gauges.changed(this);
    }
    this.slot += skew;
    this.due += skew;
    if (this.catchUpUntil !== null) this.catchUpUntil += skew;
    if (this.run) {
      this.run.scheduledAt += skew;
      this.run.queuedAt += skew;
      if (this.run.retryAt != null) this.run.retryAt += skew;
    }
  }
}
