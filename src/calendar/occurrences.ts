/**
 * Occurrences of a cron rule in a time zone, with Vixie cron's daylight-saving rules:
 *
 * - a local time that does not exist (clocks spring forward over it) runs once, at the first
 *   instant after the gap (several such times coalesce into that one run, and with a time that
 *   matches there anyway);
 * - a local time that exists twice (clocks fall back) runs once, at its first occurrence, when
 *   the rule's hour field is fixed (`rule.fixedHour`);
 * - a rule whose hour field is `*` or a step follows real time: every real instant whose local
 *   time matches runs, so it also runs through the repeated hour.
 *
 * Real time is cut into spans of constant UTC offset (from luxon, see zone.ts); inside a span
 * wall time and real time differ by that offset, so each span is searched with the field-skipping
 * wall search (wall.ts) and the next span is only looked at when this one has no match.
 */
import type { CronRule } from './cron.js';
import { nextWall, previousWall } from './wall.js';
import { timelineOf } from './zone.js';

/** Result of a search: an instant (epoch ms), or none within {@link SEARCH_HORIZON_MS}. */
export type Occurrence =
  | { readonly status: 'found'; readonly at: number }
  | { readonly status: 'none'; readonly searchedUntil: number };

/**
 * How far a search looks: 8 years (Gregorian leap days can be 8 years apart, so every rule that
 * `parseCron` accepts has an occurrence within it; `none` only comes at the edges of the
 * supported range).
 */
export const SEARCH_HORIZON_MS = 8 * 366 * 86_400_000;

/** Instants accepted: years 1900 to 9000. */
const MIN_MS = Date.UTC(1900, 0, 1);
const MAX_MS = Date.UTC(9000, 0, 1);

function checkInstant(name: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < MIN_MS || ms > MAX_MS) {
    throw new RangeError(`Expected ${name} to be epoch milliseconds between the years 1900 and 9000, got ${String(ms)}`);
  }
}

const found = (at: number): Occurrence => ({ status: 'found', at });

/**
 * The first occurrence of `rule` in `timeZone` strictly after `afterMs` (epoch ms).
 * `timeZone` is an IANA name (checked: an unknown one throws `InvalidFabricError`).
 */
export function nextOccurrence(rule: CronRule, timeZone: string, afterMs: number): Occurrence {
  checkInstant('afterMs', afterMs);
  const timeline = timelineOf(timeZone);
  const horizon = Math.min(afterMs + SEARCH_HORIZON_MS, MAX_MS);
  let t = Math.floor(afterMs) + 1; // earliest acceptable instant
  while (t <= horizon) {
    const offset = timeline.offsetAt(t);
    const start = timeline.changeAtOrBefore(t);
    const end = timeline.changeAfter(t) ?? Date.UTC(new Date(t).getUTCFullYear() + 2, 0, 1);
    const before = start === undefined ? offset : timeline.offsetAt(start - 1);
    // The span begins at t with clocks springing forward: the skipped wall times run at t.
    if (start === t && before < offset && nextWall(rule, start + before, start + offset) !== undefined) return found(t);
    // Clocks fell back at `start`: a fixed-hour rule already ran at the first of the repeated times.
    const from = rule.fixedHour && start !== undefined && before > offset ? Math.max(t + offset, start + before) : t + offset;
    const wall = nextWall(rule, from, end + offset);
    if (wall !== undefined) return wall - offset <= horizon ? found(wall - offset) : { status: 'none', searchedUntil: horizon };
    t = end;
  }
  return { status: 'none', searchedUntil: horizon };
}

/**
 * The last occurrence of `rule` in `timeZone` at or before `atOrBeforeMs` (epoch ms): the
 * mirror of {@link nextOccurrence}, so `previousOccurrence(next.at)` is `next.at`.
 */
export function previousOccurrence(rule: CronRule, timeZone: string, atOrBeforeMs: number): Occurrence {
  checkInstant('atOrBeforeMs', atOrBeforeMs);
  const timeline = timelineOf(timeZone);
  const horizon = Math.max(atOrBeforeMs - SEARCH_HORIZON_MS, MIN_MS);
  let t = Math.floor(atOrBeforeMs); // latest acceptable instant
  while (t >= horizon) {
    const offset = timeline.offsetAt(t);
    const start = timeline.changeAtOrBefore(t);
    const low = start ?? Date.UTC(new Date(t).getUTCFullYear() - 1, 0, 1);
    const before = start === undefined ? offset : timeline.offsetAt(start - 1);
    const lowWall = rule.fixedHour && start !== undefined && before > offset ? start + before : low + offset;
    const wall = previousWall(rule, t + offset, lowWall);
    if (wall !== undefined) return wall - offset >= horizon ? found(wall - offset) : { status: 'none', searchedUntil: horizon };
    if (start !== undefined && before < offset && nextWall(rule, start + before, start + offset) !== undefined) return found(start);
    t = low - 1;
  }
  return { status: 'none', searchedUntil: horizon };
}
