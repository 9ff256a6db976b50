/**
 * nextOccurrence against an independent reference: random rules (built from field sets, so the
 * expected sets are known without the parser), random zones and instants near daylight-saving
 * changes. The reference walks real minutes with luxon's DateTime.fromMillis and applies the
 * documented rules directly: a match at a local time seen for the first time (or, for hours
 * written with `*` or a step, at any time), and a run at the first minute after a spring-forward
 * gap that swallowed a matching local time.
 */
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { nextOccurrence, parseCron, previousOccurrence } from '../../src/calendar/index.js';

const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'UTC', 'Asia/Kolkata', 'America/St_Johns'];
const MIN = 60_000;
const WINDOW = 26 * 3_600_000;

interface Field { text: string; values: Set<number>; star: boolean; stepped: boolean }
interface Spec { expr: string; seconds: Set<number>; minutes: Set<number>; hours: Set<number>; doms: Set<number>; months: Set<number>; dows: Set<number>; either: boolean; fixedHour: boolean }

const span = (a: number, b: number, step = 1): Set<number> => {
  const out = new Set<number>();
  for (let v = a; v <= b; v += step) out.add(v);
  return out;
};

/** A field as text plus the set it means, for a field whose values are min..max. */
const field = (min: number, max: number, interesting: number[]): fc.Arbitrary<Field> => {
  const value = fc.oneof(fc.constantFrom(...interesting), fc.integer({ min, max }));
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant({ text: '*', values: span(min, max), star: true, stepped: false }) },
    { weight: 2, arbitrary: fc.integer({ min: 2, max: Math.min(12, max - min) }).map((n) => ({ text: `*/${n}`, values: span(min, max, n), star: true, stepped: true })) },
    { weight: 3, arbitrary: value.map((v) => ({ text: `${v}`, values: new Set([v]), star: false, stepped: false })) },
    { weight: 2, arbitrary: fc.tuple(value, value).map(([a, b]) => { const [lo, hi] = a <= b ? [a, b] : [b, a]; return { text: `${lo}-${hi}`, values: span(lo, hi), star: false, stepped: false }; }) },
    { weight: 1, arbitrary: fc.tuple(value, value, fc.integer({ min: 2, max: 5 })).map(([a, b, n]) => { const [lo, hi] = a <= b ? [a, b] : [b, a]; return { text: `${lo}-${hi}/${n}`, values: span(lo, hi, n), star: false, stepped: true }; }) },
    { weight: 2, arbitrary: fc.uniqueArray(value, { minLength: 2, maxLength: 4 }).map((vs) => ({ text: vs.join(','), values: new Set(vs), star: false, stepped: false })) },
  );
};

const spec: fc.Arbitrary<Spec> = fc
  .record({
    six: fc.boolean(),
    second: field(0, 59, [0, 30]),
    minute: field(0, 59, [0, 15, 30, 45]),
    hour: field(0, 23, [0, 1, 2, 3]),
    dom: fc.oneof({ weight: 5, arbitrary: fc.constant({ text: '*', values: span(1, 31), star: true, stepped: false }) }, { weight: 1, arbitrary: field(1, 31, [1, 4, 5, 25, 29, 31]) }),
    month: fc.oneof({ weight: 5, arbitrary: fc.constant({ text: '*', values: span(1, 12), star: true, stepped: false }) }, { weight: 1, arbitrary: field(1, 12, [3, 4, 10, 11]) }),
    dow: fc.oneof({ weight: 4, arbitrary: fc.constant({ text: '*', values: span(0, 6), star: true, stepped: false }) }, { weight: 1, arbitrary: field(0, 6, [0, 1]) }),
  })
  .map(({ six, second, minute, hour, dom, month, dow }) => ({
    expr: `${six ? `${second.text} ` : ''}${minute.text} ${hour.text} ${dom.text} ${month.text} ${dow.text}`,
    seconds: six ? second.values : new Set([0]),
    minutes: minute.values,
    hours: hour.values,
    doms: dom.values,
    months: month.values,
    dows: dow.values,
    either: !dom.star && !dow.star,
    fixedHour: !hour.star && !hour.stepped,
  }));

const matchesMinute = (s: Spec, d: DateTime): boolean => {
  const dom = s.doms.has(d.day);
  const dow = s.dows.has(d.weekday % 7);
  return s.minutes.has(d.minute) && s.hours.has(d.hour) && s.months.has(d.month) && (s.either ? dom || dow : dom && dow);
};
const offsetMs = (zone: string, t: number): number => DateTime.fromMillis(t, { zone }).offset * MIN;

/** The wall time of real minute `m` was already shown before (clocks fell back over it). */
function repeated(zone: string, m: number): boolean {
  const now = offsetMs(zone, m);
  const earlier = offsetMs(zone, m - 6 * 3_600_000);
  return earlier > now && offsetMs(zone, m - (earlier - now)) === earlier;
}

/** First occurrence in (after, after + WINDOW], or undefined. Transitions fall on whole minutes here. */
function reference(s: Spec, zone: string, after: number): number | undefined {
  let m = Math.floor(after / MIN) * MIN;
  let previousOffset = offsetMs(zone, m - MIN);
  for (; m <= after + WINDOW; m += MIN) {
    const d = DateTime.fromMillis(m, { zone });
    const offset = d.offset * MIN;
    if (offset > previousOffset && m > after) {
      // spring forward at m: local minutes (m - 1 min + previousOffset, m + offset) never showed
      for (let w = m - MIN + previousOffset + MIN; w < m + offset; w += MIN) {
        if (matchesMinute(s, DateTime.fromMillis(w, { zone: 'utc' }))) return m;
      }
    }
    previousOffset = offset;
    if (!matchesMinute(s, d) || (s.fixedHour && repeated(zone, m))) continue;
    for (const second of [...s.seconds].sort((a, b) => a - b)) if (m + second * 1000 > after) return m + second * 1000;
  }
  return undefined;
}

/** Instants near the changes of 2026-2027 (found with luxon, hour by hour) or anywhere in them. */
const changes = new Map<string, number[]>();
for (const zone of ZONES) {
  const list: number[] = [];
  for (let t = Date.parse('2026-01-01T00:00:00Z'); t < Date.parse('2028-01-01T00:00:00Z'); t += 6 * 3_600_000) {
    if (offsetMs(zone, t) !== offsetMs(zone, t + 6 * 3_600_000)) list.push(t);
  }
  changes.set(zone, list);
}
const instant = fc.constantFrom(...ZONES).chain((zone) => {
  const near = changes.get(zone)!;
  const anywhere = fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2027-12-31T00:00:00Z') });
  const close = near.length === 0 ? anywhere : fc.tuple(fc.constantFrom(...near), fc.integer({ min: -30 * 60, max: 12 * 60 })).map(([c, m]) => c + m * MIN);
  return fc.tuple(fc.constant(zone), fc.oneof({ weight: 3, arbitrary: close }, { weight: 1, arbitrary: anywhere }), fc.integer({ min: 0, max: 59_999 }));
});

describe('nextOccurrence against a minute-by-minute reference', () => {
  it('agrees for random rules, zones and instants; previous is consistent', () => {
    fc.assert(
      fc.property(spec, instant, (s, [zone, base, jitter]) => {
        let rule;
        try {
          rule = parseCron(s.expr);
        } catch (error) {
          // only a day-of-month in none of its months may be refused
          expect(String(error)).toMatch(/day-of-month that exists/);
          return;
        }
        const after = base + jitter;
        const next = nextOccurrence(rule, zone, after);
        if (next.status !== 'found') throw new Error('none');
        const expected = reference(s, zone, after);
        if (expected === undefined) expect(next.at).toBeGreaterThan(after + WINDOW);
        else expect(new Date(next.at).toISOString()).toBe(new Date(expected).toISOString());
        // previous(next) is next; nothing lies between after and next
        expect(previousOccurrence(rule, zone, next.at)).toEqual(next);
        const before = previousOccurrence(rule, zone, next.at - 1);
        if (before.status === 'found') expect(before.at).toBeLessThanOrEqual(after);
      }),
      { numRuns: Number(process.env.CALENDAR_RUNS ?? 300) },
    );
  });
});
