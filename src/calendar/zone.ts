/**
 * Time zones: validation of IANA names, and each zone's UTC offsets as a list of constant-offset
 * spans built from luxon (`IANAZone#offset`, which reads the platform's tz database through
 * Intl). Nothing here knows any zone's rules: every offset comes from luxon.
 *
 * Asking luxon for one offset costs about 20 µs, so the spans are found once per zone and year
 * (offsets sampled every 6 hours, each change narrowed to the second by bisection) and cached;
 * after that an offset is a binary search. Assumes two offset changes are never less than
 * 6 hours apart (true of every zone in the tz database in the years people schedule in).
 */
import { IANAZone, type Zone } from 'luxon';
import { InvalidFabricError } from '../errors.js';

/** The zone used when a schedule names none. */
export const DEFAULT_TIME_ZONE = 'UTC';

/**
 * Checks an IANA time zone name (`'Europe/Berlin'`, `'UTC'`; any case) and returns it as given.
 * `undefined` gives {@link DEFAULT_TIME_ZONE}. Throws {@link InvalidFabricError} on field
 * `schedule.timeZone` for anything else (unknown names, offsets such as `'+02:00'`).
 */
export function validateTimeZone(timeZone: unknown, fabricId?: string): string {
  if (timeZone === undefined) return DEFAULT_TIME_ZONE;
  if (typeof timeZone !== 'string' || timeZone.length > 100 || !IANAZone.isValidZone(timeZone)) {
    throw new InvalidFabricError('schedule.timeZone', `an IANA time zone name such as 'Europe/Berlin' or 'UTC'`, timeZone, fabricId);
  }
  return timeZone;
}

const MINUTE = 60_000;
const SAMPLE = 6 * 3_600_000;
/** Epoch ms of 1 January of each year, UTC (`Date.UTC` handles years 0-99 badly: none asked). */
const yearStart = (year: number): number => Date.UTC(year, 0, 1);

/** Offsets of one zone: `starts[i]` (epoch ms) begins a span at `offsets[i]` ms ahead of UTC. */
export class ZoneTimeline {
  private readonly zone: Zone;
  private readonly fixed: boolean;
  /** Per year: the changes that year, as [instant, new offset in ms] pairs, plus its 1 Jan offset. */
  private readonly years = new Map<number, { readonly first: number; readonly changes: readonly (readonly [number, number])[] }>();

  constructor(readonly name: string) {
    this.zone = IANAZone.create(name);
    if (!this.zone.isValid) throw new RangeError(`Unknown time zone ${name}`);
    this.fixed = this.zone.isUniversal;
  }

  /** Offset (ms ahead of UTC) in force at `t`. */
  offsetAt(t: number): number {
    if (this.fixed) return this.luxonOffset(0);
    const year = this.year(new Date(t).getUTCFullYear());
    let offset = year.first;
    for (const [at, next] of year.changes) {
      if (at > t) break;
      offset = next;
    }
    return offset;
  }

  /** The last offset change at or before `t`, or `undefined` if none in `t`'s year or the one before. */
  changeAtOrBefore(t: number): number | undefined {
    if (this.fixed) return undefined;
    const y = new Date(t).getUTCFullYear();
    for (const year of [y, y - 1]) {
      const changes = this.year(year).changes;
      for (let i = changes.length - 1; i >= 0; i--) if (changes[i]![0] <= t) return changes[i]![0];
    }
    return undefined;
  }

  /** The first offset change strictly after `t`, or `undefined` if none in `t`'s year or the next. */
  changeAfter(t: number): number | undefined {
    if (this.fixed) return undefined;
    const y = new Date(t).getUTCFullYear();
    for (const year of [y, y + 1]) {
      for (const [at] of this.year(year).changes) if (at > t) return at;
    }
    return undefined;
  }

  private luxonOffset(t: number): number {
    return this.zone.offset(t) * MINUTE;
  }

  private year(year: number): { readonly first: number; readonly changes: readonly (readonly [number, number])[] } {
    const cached = this.years.get(year);
    if (cached) return cached;
    const start = yearStart(year);
    const end = yearStart(year + 1);
    const first = this.luxonOffset(start);
    const changes: [number, number][] = [];
    // a change exactly at midnight UTC on 1 January belongs to this year (not found by sampling)
    if (this.luxonOffset(start - 1000) !== first) changes.push([start, first]);
    let before = start;
    let offset = first;
    for (let t = Math.min(start + SAMPLE, end); ; t = Math.min(t + SAMPLE, end)) {
      const now = this.luxonOffset(t);
      if (now !== offset) {
        // the change lies in (before, t]: narrow it to the second (tz changes fall on seconds)
        let lo = before;
        let hi = t;
        while (hi - lo > 1000) {
          const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
          if (this.luxonOffset(mid) === offset) lo = mid;
          else hi = mid;
        }
        if (hi < end) changes.push([hi, now]);
        offset = now;
      }
      if (t >= end) break;
      before = t;
    }
    const entry = { first, changes };
    if (this.years.size >= 64) this.years.delete(this.years.keys().next().value!);
    this.years.set(year, entry);
    return entry;
  }
}

const timelines = new Map<string, ZoneTimeline>();

/**
 * The shared timeline of a zone, kept for at most 256 zones. Throws `InvalidFabricError`
 * (`schedule.timeZone`) for an unknown zone.
 */
export function timelineOf(name: string): ZoneTimeline {
  let timeline = timelines.get(name);
  if (!timeline) {
    if (timelines.size >= 256) timelines.delete(timelines.keys().next().value!);
    timeline = new ZoneTimeline(validateTimeZone(name));
    timelines.set(name, timeline);
  }
  return timeline;
}
