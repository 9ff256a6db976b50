/**
 * Wall-clock search: the next or previous local date-time (as "wall ms": the local fields read
 * as if they were UTC) whose fields match a rule. Pure calendar arithmetic, no zone involved;
 * each step skips a whole month, day, hour or minute that cannot match.
 */
import type { CronRule } from './cron.js';

interface Fields {
  y: number;
  mo: number; // 1-12
  d: number;
  h: number;
  mi: number;
  s: number;
}

const daysIn = (y: number, mo: number): number => new Date(Date.UTC(y, mo, 0)).getUTCDate();

function fieldsOf(wall: number): Fields {
  const date = new Date(wall);
  return { y: date.getUTCFullYear(), mo: date.getUTCMonth() + 1, d: date.getUTCDate(), h: date.getUTCHours(), mi: date.getUTCMinutes(), s: date.getUTCSeconds() };
}

const wallOf = (f: Fields): number => Date.UTC(f.y, f.mo - 1, f.d, f.h, f.mi, f.s);

function dayMatches(rule: CronRule, y: number, mo: number, d: number): boolean {
  const dom = rule.daysOfMonth.includes(d);
  const dow = rule.daysOfWeek.includes(new Date(Date.UTC(y, mo - 1, d)).getUTCDay());
  return rule.dayMatch === 'either' ? dom || dow : dom && dow;
}

/** Smallest value of `sorted` that is >= v, or undefined. */
function atOrAbove(sorted: readonly number[], v: number): number | undefined {
  for (const x of sorted) if (x >= v) return x;
  return undefined;
}

/** Largest value of `sorted` that is <= v, or undefined. */
function atOrBelow(sorted: readonly number[], v: number): number | undefined {
  for (let i = sorted.length - 1; i >= 0; i--) if (sorted[i]! <= v) return sorted[i];
  return undefined;
}

/**
 * The first wall time at or after `from` (rounded up to the second) that matches `rule`, or
 * `undefined` if there is none before `limit`.
 */
export function nextWall(rule: CronRule, from: number, limit: number): number | undefined {
  const f = fieldsOf(Math.ceil(from / 1000) * 1000);
  const first = (sorted: readonly number[]): number => sorted[0]!;
  const nextDay = (): void => {
    f.d += 1;
    if (f.d > daysIn(f.y, f.mo)) {
      f.d = 1;
      f.mo += 1;
      if (f.mo > 12) {
        f.mo = 1;
        f.y += 1;
      }
    }
    f.h = first(rule.hours);
    f.mi = first(rule.minutes);
    f.s = first(rule.seconds);
  };
  for (;;) {
    if (wallOf({ ...f, h: 0, mi: 0, s: 0 }) >= limit) return undefined;
    const mo = atOrAbove(rule.months, f.mo);
    if (mo !== f.mo) {
      if (mo === undefined) f.y += 1;
      f.mo = mo ?? first(rule.months);
      f.d = 1;
      f.h = first(rule.hours);
      f.mi = first(rule.minutes);
      f.s = first(rule.seconds);
      continue;
    }
    if (!dayMatches(rule, f.y, f.mo, f.d)) {
      nextDay();
      continue;
    }
    const h = atOrAbove(rule.hours, f.h);
    if (h === undefined) {
      nextDay();
      continue;
    }
    if (h !== f.h) {
      f.h = h;
      f.mi = first(rule.minutes);
      f.s = first(rule.seconds);
    }
    const mi = atOrAbove(rule.minutes, f.mi);
    if (mi === undefined) {
      f.h += 1;
      f.mi = first(rule.minutes);
      f.s = first(rule.seconds);
      if (f.h > 23) nextDay();
      continue;
    }
    if (mi !== f.mi) {
      f.mi = mi;
      f.s = first(rule.seconds);
    }
    const s = atOrAbove(rule.seconds, f.s);
    if (s === undefined) {
      f.mi += 1;
      f.s = first(rule.seconds);
      if (f.mi > 59) {
        f.h += 1;
        f.mi = first(rule.minutes);
        if (f.h > 23) nextDay();
      }
      continue;
    }
    f.s = s;
    const wall = wallOf(f);
    return wall < limit ? wall : undefined;
  }
}

/**
 * The last wall time at or before `atOrBefore` (rounded down to the second) that matches `rule`,
 * or `undefined` if there is none at or after `limit`.
 */
export function previousWall(rule: CronRule, atOrBefore: number, limit: number): number | undefined {
  const f = fieldsOf(Math.floor(atOrBefore / 1000) * 1000);
  const last = (sorted: readonly number[]): number => sorted[sorted.length - 1]!;
  const previousDay = (): void => {
    f.d -= 1;
    if (f.d < 1) {
      f.mo -= 1;
      if (f.mo < 1) {
        f.mo = 12;
        f.y -= 1;
      }
      f.d = daysIn(f.y, f.mo);
    }
    f.h = last(rule.hours);
    f.mi = last(rule.minutes);
    f.s = last(rule.seconds);
  };
  for (;;) {
    if (wallOf({ ...f, h: 23, mi: 59, s: 59 }) < limit) return undefined;
    const mo = atOrBelow(rule.months, f.mo);
    if (mo !== f.mo) {
      if (mo === undefined) f.y -= 1;
      f.mo = mo ?? last(rule.months);
      f.d = daysIn(f.y, f.mo);
      f.h = last(rule.hours);
      f.mi = last(rule.minutes);
      f.s = last(rule.seconds);
      continue;
    }
    if (!dayMatches(rule, f.y, f.mo, f.d)) {
      previousDay();
      continue;
    }
    const h = atOrBelow(rule.hours, f.h);
    if (h === undefined) {
      previousDay();
      continue;
    }
    if (h !== f.h) {
      f.h = h;
      f.mi = last(rule.minutes);
      f.s = last(rule.seconds);
    }
    const mi = atOrBelow(rule.minutes, f.mi);
    if (mi === undefined) {
      f.h -= 1;
      f.mi = last(rule.minutes);
      f.s = last(rule.seconds);
      if (f.h < 0) previousDay();
      continue;
    }
    if (mi !== f.mi) {
      f.mi = mi;
      f.s = last(rule.seconds);
    }
    const s = atOrBelow(rule.seconds, f.s);
    if (s === undefined) {
      f.mi -= 1;
      f.s = last(rule.seconds);
      if (f.mi < 0) {
        f.h -= 1;
        f.mi = last(rule.minutes);
        if (f.h < 0) previousDay();
      }
      continue;
    }
    f.s = s;
    const wall = wallOf(f);
    return wall >= limit ? wall : undefined;
  }
}
