/**
 * The fabric gauges (`metrics().fabrics`, `stale`, `maxStalenessMs`, `breaker.open`, and the
 * OpenTelemetry gauges read at every collection), kept up to date as the runtimes change, so a
 * read costs O(statuses) whatever the number of fabrics.
 *
 * What a runtime adds is a small key packed in its flags ({@link FabricRuntime.gauge}): its
 * status, whether it is behind the breaker, whether it is enabled with a last success. The key is
 * recomputed where its inputs change, all of which go through this module: a runtime added or
 * forgotten ({@link FabricGauges.add}, {@link FabricGauges.delete}, {@link FabricGauges.clear}),
 * its cached record (`cache`, `cacheWritten`, `shift`), its definition (`redefine`), and its
 * `stale` flag (`setStale`). Per change: a few field reads, a look at the 8 oldest (oldest.ts)
 * and, when the key moved, a few counter updates; no allocation.
 *
 * Honest within the freshness bound: a stored `in_sync` counts as `out_of_sync`, and a fabric as
 * `stale`, from when the scheduler sees it cross its staleness bound (the moment `fabric:stale` is
 * emitted: at its own wake or by the freshness sweep, see freshness.ts) until a change makes it
 * fresh (at once: a success, a longer bound, disabling, removal). `maxStalenessMs` comes from the
 * sweep: the 8 (`OLDEST_KEPT`) oldest last successes the last completed pass saw, kept current
 * as those fabrics change (an older one arriving since joins them). It is exact while the oldest
 * is among them: always with at most 8 enabled fabrics, and while a fabric stays behind (the
 * case the gauge is for). Once all 8 have synced since the pass, it reads the age of the oldest
 * success the pass did not keep: older than the truth (never younger), until the next pass
 * completes (at most one sweep period plus the pass's wakes later). All of it over this
 * scheduler's cached records, as before (a fabric another replica runs is as fresh as this
 * scheduler last read it).
 */
import { SYNC_STATUSES, statusIndex } from '../status.js';
import { isOpen, type ResolvedBreaker } from './breaker.js';
import type { FabricRuntime } from './fabric-runtime.js';
import { isStale } from './freshness.js';
import { OldestSet } from './oldest.js';

/** Status codes in a gauge key: index in SYNC_STATUSES + 1 (0: not counted). */
const STATUS_MASK = 7;
const OUT_OF_SYNC = 4;
/** Key bit: enabled and behind the failure breaker. */
const OPEN = 8;
/** Key bit: enabled with a last success (`maxStalenessMs` looks at these). */
const SUCCESS = 16;


/** What a runtime adds to the gauges now (never 0). */
export function gaugeKey(rt: FabricRuntime, breaker: ResolvedBreaker | false): number {
  const status = rt.status;
  if (status === undefined) return 1;
  const code = statusIndex(status) + 1;
  let key = code === 3 && rt.stale ? OUT_OF_SYNC : code;
  if (rt.fabric.enabled) {
    if (rt.lastSyncAt !== null) key |= SUCCESS;
    if (isOpen(breaker, rt.consecutiveFailures)) key |= OPEN;
  }
  return key;
}

/** The fabric gauges as `metrics()` reports them. */
export interface FabricGaugeValues {
  /** Fabrics by status (statuses with none left out). */
  readonly fabrics: Record<string, number>;
  readonly stale: number;
  readonly maxStalenessMs: number | null;
  /** Enabled fabrics behind the failure breaker. */
  readonly open: number;
}

/** Each scheduler's gauges, for the tests that recount them (test/scheduler/gauges.test.ts); not exported by the package. */
const OWNED = new WeakMap<object, FabricGauges>();

/** The gauges of `owner` (a scheduler), for tests. */
export function gaugesOf(owner: object): FabricGauges | undefined {
  return OWNED.get(owner);
}

/** One scheduler's fabric gauges, over its table of runtimes (it adds and forgets runtimes). */
export class FabricGauges {
  readonly #fabrics: Map<string, FabricRuntime>;
  readonly #breaker: ResolvedBreaker | false;
  readonly #now: () => number;
  /** Runtimes by status code (index 0 unused). */
  readonly #byStatus = [0, 0, 0, 0, 0, 0, 0];
  #stale = 0;
  #open = 0;
  /** Enabled runtimes with a last success. */
  #withSuccess = 0;
  /** The oldest last successes: the last completed sweep pass's set, kept current since (oldest.ts). */
  #oldest = new OldestSet<FabricRuntime>();
  /** The set the pass in progress builds (it replaces {@link #oldest} when the pass ends), or null between passes. */
  #passOldest: OldestSet<FabricRuntime> | null = null;
  /** The set the next pass starts from (the one the last pass replaced, cleared): no allocation per pass. */
  #spare = new OldestSet<FabricRuntime>();

  constructor(owner: object, fabrics: Map<string, FabricRuntime>, breaker: ResolvedBreaker | false, now: () => number) {
    OWNED.set(owner, this);
    this.#fabrics = fabrics;
    this.#breaker = breaker;
    this.#now = now;
  }

  /** Adds a runtime to the table (a fabric new to this scheduler) and counts it. */
  add(rt: FabricRuntime): void {
    this.#fabrics.set(rt.fabric.id, rt);
    if (rt.stale) this.#stale++;
    this.#count(rt, gaugeKey(rt, this.#breaker));
  }

  /** Forgets a runtime (removed): out of the table when it is its fabric's, and no longer counted. */
  delete(rt: FabricRuntime): void {
    if (this.#fabrics.get(rt.fabric.id) === rt) this.#fabrics.delete(rt.fabric.id);
    this.#uncount(rt);
  }

  /** Forgets every runtime (the scheduler stopped). */
  clear(): void {
    for (const rt of this.#fabrics.values()) this.#uncount(rt);
    this.#fabrics.clear();
    this.#oldest.clear();
    this.#passOldest?.clear();
    this.#passOldest = null;
  }

  /**
   * The runtime's record or definition changed: a fabric seen stale that this made fresh is fresh
   * at once (as `checkFreshness` would find; no event), and its key follows.
   */
  changed(rt: FabricRuntime): void {
    const old = rt.gauge;
    if (old === 0) return; // not counted: removed, or its scheduler stopped
    if (rt.stale && !isStale(rt, this.#now())) return rt.setStale(false, this);
    this.#count(rt, gaugeKey(rt, this.#breaker));
  }

  /** The runtime's `stale` flag flipped (see {@link FabricRuntime.setStale}). */
  staleFlipped(rt: FabricRuntime, stale: boolean): void {
    if (rt.gauge === 0) return;
    this.#stale += stale ? 1 : -1;
    this.#count(rt, gaugeKey(rt, this.#breaker));
  }

  /** A freshness sweep pass begins (freshness.ts). */
  passBegan(): void {
    if (this.#passOldest !== null) return;
    this.#passOldest = this.#spare;
    this.#passOldest.clear();
  }

  /** The pass looks at a runtime (after `checkFreshness`). */
  passSaw(rt: FabricRuntime): void {
    if (this.#passOldest !== null && (rt.gauge & SUCCESS) !== 0) this.#passOldest.note(rt, rt.lastSyncAt);
  }

  /** The pass has looked at every runtime: the oldest last successes it found are the gauge's from now on. */
  passEnded(): void {
    if (this.#passOldest === null) return;
    this.#spare = this.#oldest;
    this.#oldest = this.#passOldest;
    this.#passOldest = null;
  }

  /** The gauges at `now`. O(statuses). */
  values(now: number): FabricGaugeValues {
    const fabrics: Record<string, number> = {};
    for (let code = 1; code < this.#byStatus.length; code++) {
      const n = this.#byStatus[code]!;
      if (n > 0) fabrics[SYNC_STATUSES[code - 1]!] = n;
    }
    const oldest = this.#withSuccess > 0 ? this.#oldest.oldest() : null;
    return { fabrics, stale: this.#stale, maxStalenessMs: oldest === null ? null : Math.max(0, now - oldest), open: this.#open };
  }

  /**
   * The same gauges recounted from every runtime (O(fabrics)), for tests that check the counts
   * never drift: what the keys add up to, the exact oldest last success (`oldest`, epoch ms), and
   * how many runtimes are flagged stale though fresh at `now` (`staleButFresh`: always 0).
   */
  recount(now: number): Omit<FabricGaugeValues, 'maxStalenessMs'> & { oldest: number | null; staleButFresh: number } {
    const fabrics: Record<string, number> = {};
    let stale = 0;
    let open = 0;
    let oldest: number | null = null;
    let staleButFresh = 0;
    for (const rt of this.#fabrics.values()) {
      if (rt.stale && !isStale(rt, now)) staleButFresh++;
      const key = gaugeKey(rt, this.#breaker);
      const status = SYNC_STATUSES[(key & STATUS_MASK) - 1]!;
      fabrics[status] = (fabrics[status] ?? 0) + 1;
      if (rt.stale) stale++;
      if (key & OPEN) open++;
      const last = rt.lastSyncAt;
      if (key & SUCCESS && (oldest === null || last! < oldest)) oldest = last;
    }
    return { fabrics, stale, open, oldest, staleButFresh };
  }

  /** Counts `rt` under `key` instead of what it added before. */
  #count(rt: FabricRuntime, key: number): void {
    const old = rt.gauge;
    if ((key | old) & SUCCESS) this.#noteOldest(rt, key & SUCCESS ? rt.lastSyncAt : null);
    if (key === old) return;
    this.#add(old, -1);
    this.#add(key, 1);
    rt.gauge = key;
  }

  #uncount(rt: FabricRuntime): void {
    const old = rt.gauge;
    if (old === 0) return;
    if (old & SUCCESS) this.#noteOldest(rt, null);
    if (rt.stale) this.#stale--;
    this.#add(old, -1);
    rt.gauge = 0;
  }

  #add(key: number, n: number): void {
    if (key === 0) return;
    this.#byStatus[key & STATUS_MASK]! += n;
    if (key & OPEN) this.#open += n;
    if (key & SUCCESS) this.#withSuccess += n;
  }

  #noteOldest(rt: FabricRuntime, lastSyncAt: number | null): void {
    this.#oldest.note(rt, lastSyncAt);
    this.#passOldest?.note(rt, lastSyncAt);
  }
}
