/**
 * Cadences: what a fabric's slots are. Pure (no clock): every question takes the instants it
 * needs as arguments.
 *
 * A fabric's slots are its stored anchor (`anchorAt`, where its current grid began: the first run
 * of a new or re-enabled fabric, which runs at once) followed by the points of its cadence after
 * the anchor:
 *
 * - `interval`: `anchor + k * interval` (the anchor is itself a point);
 * - `spread`: `offset + k * interval` from the Unix epoch, `offset` a stable hash of the fabric id
 *   in `[0, interval)` (the same on every replica and after a restart);
 * - `calendar`: the occurrences of a cron rule in a time zone (src/calendar, docs/calendar.md).
 *
 * Every slot computation of the scheduler (arming, claiming, catch-up, missed-slot reports, the
 * off-grid check, staleness) goes through {@link Cadence}; `slotAtOrAfter(anchor, t)` is "the next
 * slot at or after t" that other policies (a failure breaker) build on.
 */
import { nextOccurrence, previousOccurrence, type CronRule } from '../calendar/index.js';
import { parseCron } from '../calendar/cron.js';
import type { Fabric } from '../definition.js';
import { restingStatus, statusGiven, type SyncStatus } from '../status.js';

/** A run of consecutive slots (the first, the last, how many). */
export interface MissedSlots {
  readonly first: number;
  readonly last: number;
  readonly count: number;
}

/**
 * Most slots {@link Cadence.slotsIn} walks one by one (calendar cadences): a longer run of missed
 * occurrences reports this many (a lower bound) so a long outage of a per-second rule costs
 * bounded time.
 */
export const MAX_COUNTED_SLOTS = 1_000;

export interface Cadence {
  readonly kind: 'interval' | 'spread' | 'calendar';
  /** The period of an interval or spread cadence, ms; null for a calendar. */
  readonly interval: number | null;
  /** First slot at or after `t` (the anchor itself when `t` is at or before it); Infinity when none. */
  slotAtOrAfter(anchor: number, t: number): number;
  /** Latest slot at or before `t`, or null when `t` is before the anchor. */
  latestAtOrBefore(anchor: number, t: number): number | null;
  /** Whether `t` is a slot. */
  isSlot(anchor: number, t: number): boolean;
  /**
   * Whether `t` is a point of the cadence whatever the anchor (an occurrence of a calendar rule, a
   * point of a spread grid); null for an interval cadence, whose points depend on the anchor.
   */
  isPoint(t: number): boolean | null;
  /**
   * The slots in `[from, until)` (`from` a slot), or null when none; a calendar count stops at
   * {@link MAX_COUNTED_SLOTS}.
   */
  slotsIn(anchor: number, from: number, until: number): MissedSlots | null;
  /** The slot `n` slots before `slot`, not earlier than `floor` (a slot). */
  back(anchor: number, slot: number, n: number, floor: number): number;
  /**
   * Staleness: a fabric whose last success is before this instant is out of sync at `now`
   * (default: 2 × interval before `now`; a calendar: the second-latest occurrence at or before
   * `now`; `maxStaleness` when the fabric sets one).
   */
  staleBefore(now: number): number;
  /** The first instant at which a last success at `lastSyncAt` reads stale (Infinity when never). */
  staleAt(lastSyncAt: number): number;
  /** The rule for humans: `'every 60000 ms'`, `'cron "0 2 * * 1-5" in Europe/Berlin'`. */
  readonly label: string;
}

// ------------------------------------------------------------------ periodic (interval, spread)

class Periodic implements Cadence {
  readonly kind: 'interval' | 'spread';
  readonly interval: number;
  /** Epoch offset of a spread grid (unused by 'interval', whose grid starts at the anchor). */
  readonly offset: number;
  /** A spread grid's first point after the anchor is at least this long after it (half an interval). */
  readonly #lead: number;
  readonly #maxStaleness: number | null;
  readonly label: string;

  constructor(kind: 'interval' | 'spread', interval: number, offset: number, maxStaleness: number | null) {
    this.kind = kind;
    this.interval = interval;
    this.offset = offset;
    this.#lead = kind === 'spread' ? Math.ceil(interval / 2) : 1;
    this.#maxStaleness = maxStaleness;
    this.label = kind === 'interval' ? `every ${interval} ms` : `every ${interval} ms at offset ${offset} ms`;
  }

  /** Grid origin: the anchor for 'interval', the epoch offset for 'spread'. */
  #base(anchor: number): number {
    return this.kind === 'interval' ? anchor : this.offset;
  }

  /** First grid point at or after `t`. */
  #ceil(anchor: number, t: number): number {
    const base = this.#base(anchor);
    return base + Math.ceil((t - base) / this.interval) * this.interval;
  }

  slotAtOrAfter(anchor: number, t: number): number {
    if (t <= anchor) return anchor;
    return this.#ceil(anchor, Math.max(t, anchor + this.#lead));
  }

  latestAtOrBefore(anchor: number, t: number): number | null {
    if (t < anchor) return null;
    const base = this.#base(anchor);
    const point = base + Math.floor((t - base) / this.interval) * this.interval;
    return point >= anchor + this.#lead ? point : anchor;
  }

  isSlot(anchor: number, t: number): boolean {
    if (t === anchor) return true;
    return t >= anchor + this.#lead && (t - this.#base(anchor)) % this.interval === 0;
  }

  isPoint(t: number): boolean | null {
    return this.kind === 'interval' ? null : (t - this.offset) % this.interval === 0;
  }

  slotsIn(anchor: number, from: number, until: number): MissedSlots | null {
    if (until <= from) return null;
    const last = this.latestAtOrBefore(anchor, until - 1);
    if (last === null || last < from) return null;
    if (last === from) return { first: from, last, count: 1 };
    const second = this.slotAtOrAfter(anchor, from + 1);
    return { first: from, last, count: 2 + Math.round((last - second) / this.interval) };
  }

  back(anchor: number, slot: number, n: number, floor: number): number {
    if (n <= 0 || slot <= floor) return slot;
    const target = slot - n * this.interval;
    if (target <= floor) return floor;
    return Math.max(floor, this.latestAtOrBefore(anchor, target) ?? floor);
  }

  staleBefore(now: number): number {
    return now - (this.#maxStaleness ?? 2 * this.interval);
  }

  staleAt(lastSyncAt: number): number {
    return lastSyncAt + (this.#maxStaleness ?? 2 * this.interval) + 1;
  }
}

// ------------------------------------------------------------------ calendar

class Calendar implements Cadence {
  readonly kind = 'calendar' as const;
  readonly interval = null;
  readonly rule: CronRule;
  readonly timeZone: string;
  readonly label: string;
  readonly #maxStaleness: number | null;
  /** Memo of {@link staleBefore}: valid while `now` is in `[from, until)`. */
  #stale = { from: 0, until: -1, value: 0 };

  constructor(rule: CronRule, timeZone: string, maxStaleness: number | null) {
    this.rule = rule;
    this.timeZone = timeZone;
    this.#maxStaleness = maxStaleness;
    this.label = `cron "${rule.source}" in ${timeZone}`;
  }

  /** First occurrence strictly after `t`, or Infinity. */
  next(t: number): number {
    const o = nextOccurrence(this.rule, this.timeZone, t);
    return o.status === 'found' ? o.at : Number.POSITIVE_INFINITY;
  }

  /** Latest occurrence at or before `t`, or -Infinity. */
  previous(t: number): number {
    const o = previousOccurrence(this.rule, this.timeZone, t);
    return o.status === 'found' ? o.at : Number.NEGATIVE_INFINITY;
  }

  slotAtOrAfter(anchor: number, t: number): number {
    return t <= anchor ? anchor : this.next(t - 1);
  }

  latestAtOrBefore(anchor: number, t: number): number | null {
    if (t < anchor) return null;
    return Math.max(anchor, this.previous(t));
  }

  isSlot(anchor: number, t: number): boolean {
    return t === anchor || (t > anchor && this.previous(t) === t);
  }

  isPoint(t: number): boolean {
    return this.previous(t) === t;
  }

  slotsIn(anchor: number, from: number, until: number): MissedSlots | null {
    if (until <= from) return null;
    let count = 1;
    let last = from;
    for (let s = this.slotAtOrAfter(anchor, from + 1); s < until && count < MAX_COUNTED_SLOTS; s = this.next(s)) {
      last = s;
      count++;
    }
    return { first: from, last, count };
  }

  back(anchor: number, slot: number, n: number, floor: number): number {
    let s = slot;
    for (let i = 0; i < n && s > floor; i++) s = Math.max(floor, this.latestAtOrBefore(anchor, s - 1) ?? floor);
    return s;
  }

  staleBefore(now: number): number {
    if (this.#maxStaleness !== null) return now - this.#maxStaleness;
    const memo = this.#stale;
    if (now >= memo.from && now < memo.until) return memo.value;
    const latest = this.previous(now);
    const value = latest === Number.NEGATIVE_INFINITY ? latest : this.previous(latest - 1);
    this.#stale = { from: latest, until: this.next(now), value };
    return value;
  }

  staleAt(lastSyncAt: number): number {
    if (this.#maxStaleness !== null) return lastSyncAt + this.#maxStaleness + 1;
    const first = this.next(lastSyncAt);
    return first === Number.POSITIVE_INFINITY ? first : this.next(first);
  }
}

// ------------------------------------------------------------------ spread offsets

/**
 * The stable epoch offset of a spread fabric, in `[0, interval)`: a 53-bit hash of the id (two
 * FNV-1a 32-bit hashes, finished with murmur3's mixer) modulo the interval.
 */
export function spreadOffset(id: string, interval: number): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  const hi = fmix(a) >>> 11; // 21 bits
  const lo = fmix(b ^ a); // 32 bits
  return (hi * 0x1_0000_0000 + lo) % interval;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A deterministic delay in `[0, jitter)` for one slot of one fabric (the same on every replica),
 * or 0 when `jitter` is 0.
 */
export function jitterDelay(id: string, slot: number, jitter: number): number {
  if (jitter <= 0) return 0;
  return spreadOffset(`${id}\u0000${slot}`, jitter);
}

// ------------------------------------------------------------------ per fabric

const CADENCES = new WeakMap<Fabric, Cadence>();
/** Plain interval cadences (default staleness), shared by interval: no memory per fabric on the common path. */
const PLAIN = new Map<number, Cadence>();

/** The cadence of a (normalized) fabric: shared by interval for plain interval fabrics, else computed once per definition object. */
export function cadenceOf(fabric: Fabric): Cadence {
  // A run asks for its fabric's cadence several times in a row: the last answer is kept.
  if (fabric === lastFabric) return lastCadence!;
  const c = lookUpCadence(fabric);
  lastFabric = fabric;
  lastCadence = c;
  return c;
}

/** {@link cadenceOf}'s last question and answer (definitions are frozen: the answer cannot go stale). */
let lastFabric: Fabric | undefined;
let lastCadence: Cadence | undefined;

function lookUpCadence(fabric: Fabric): Cadence {
  if (fabric.schedule === undefined && fabric.phase === undefined && fabric.maxStaleness === undefined) {
    const interval = fabric.syncInterval!;
    let p = PLAIN.get(interval);
    if (p === undefined) {
      if (PLAIN.size >= MAX_SHARED) PLAIN.clear();
      p = new Periodic('interval', interval, 0, null);
      PLAIN.set(interval, p);
    }
    return p;
  }
  let c = CADENCES.get(fabric);
  if (c === undefined) {
    c = buildCadence(fabric);
    CADENCES.set(fabric, c);
  }
  return c;
}

/** Calendar cadences shared by rule, zone and bound (fabrics of one rule share one memo); cleared past {@link MAX_SHARED}. */
const CALENDARS = new Map<string, Calendar>();
const MAX_SHARED = 10_000;

function buildCadence(fabric: Fabric): Cadence {
  const maxStaleness = fabric.maxStaleness ?? null;
  if (fabric.schedule) {
    const key = `${fabric.schedule.cron}\u0000${fabric.schedule.timeZone}\u0000${maxStaleness}`;
    let c = CALENDARS.get(key);
    if (c === undefined) {
      if (CALENDARS.size >= MAX_SHARED) CALENDARS.clear();
      c = new Calendar(parseCron(fabric.schedule.cron, fabric.id), fabric.schedule.timeZone, maxStaleness);
      CALENDARS.set(key, c);
    }
    return c;
  }
  const interval = fabric.syncInterval!;
  return fabric.phase === 'spread' ? new Periodic('spread', interval, spreadOffset(fabric.id, interval), maxStaleness) : new Periodic('interval', interval, 0, maxStaleness);
}

/** Whether two definitions have the same slots (the anchor apart). */
export function sameCadence(a: Fabric, b: Fabric): boolean {
  return a.syncInterval === b.syncInterval && a.phase === b.phase && a.schedule?.cron === b.schedule?.cron && a.schedule?.timeZone === b.schedule?.timeZone;
}

/**
 * The fabric's next slot at or after `t` on the grid anchored at `anchor` (its stored `anchorAt`):
 * what a policy that delays runs (a failure breaker) lands on to stay on the fabric's slots.
 */
export function nextSlotAtOrAfter(fabric: Fabric, anchor: number, t: number): number {
  return cadenceOf(fabric).slotAtOrAfter(anchor, t);
}

/** The first slot a fabric is free for: at or after `now` and after `lastSlotAt` (the latest slot claimed). */
export function nextFreeSlot(c: Cadence, anchor: number, lastSlotAt: number | null, now: number): number {
  return c.slotAtOrAfter(anchor, lastSlotAt === null ? now : Math.max(now, lastSlotAt + 1));
}

/** The status a reader should see for a fabric at `now` (stored `in_sync` past its staleness bound reads `out_of_sync`). */
export function fabricStatusAt(fabric: Fabric, stored: SyncStatus, lastSyncAt: number | null, now: number): SyncStatus {
  if (stored !== 'in_sync' || lastSyncAt === null) return stored;
  return statusGiven(stored, lastSyncAt, cadenceOf(fabric).staleBefore(now));
}

/** The resting status a fabric's history implies at `now`. */
export function restingStatusOf(fabric: Fabric, lastSyncAt: number | null, consecutiveFailures: number, now: number): SyncStatus {
  if (consecutiveFailures > 0 || lastSyncAt === null) return restingStatus(lastSyncAt, consecutiveFailures, 0);
  return restingStatus(lastSyncAt, consecutiveFailures, cadenceOf(fabric).staleBefore(now));
}
