/**
 * Every occurrence of eight rules in three zones through 2026 and 2027, with the daylight-saving
 * days written out instant by instant. Pure: no clock, no timers.
 */
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { nextOccurrence, parseCron, previousOccurrence, type CronRule } from '../../src/calendar/index.js';

const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'] as const;
type Zone = (typeof ZONES)[number];

const Z = (iso: string): number => Date.parse(iso);

/** Every occurrence in [from, to), by repeated nextOccurrence. */
function walk(rule: CronRule, zone: string, from: number, to: number): number[] {
  const out: number[] = [];
  let t = from - 1;
  for (;;) {
    const next = nextOccurrence(rule, zone, t);
    if (next.status !== 'found') throw new Error(`no occurrence after ${new Date(t).toISOString()}`);
    if (next.at >= to) return out;
    out.push(next.at);
    t = next.at;
  }
}

const iso = (ms: number[]): string[] => ms.map((t) => new Date(t).toISOString().replace('.000Z', 'Z'));
/** Start of a local day (a local midnight that exists in these zones) as epoch ms. */
const localDay = (zone: string, date: string): number => DateTime.fromISO(`${date}T00:00:00`, { zone }).toMillis();
const dayOf = (rule: string, zone: Zone, date: string): string[] => {
  const start = localDay(zone, date);
  const end = DateTime.fromMillis(start, { zone }).plus({ days: 1 }).toMillis();
  return iso(walk(parseCron(rule), zone, start, end));
};

/** Occurrences expected in [local 2026-01-01, local 2028-01-01): see the reasoning beside each. */
const COUNTS: Record<string, Record<Zone, number>> = {
  // one run a day, every day: a nonexistent 02:00 runs after the gap, a repeated one once
  '0 2 * * *': { 'Europe/Berlin': 730, 'America/New_York': 730, 'Australia/Lord_Howe': 730 },
  '30 2 * * *': { 'Europe/Berlin': 730, 'America/New_York': 730, 'Australia/Lord_Howe': 730 },
  '0 1 * * *': { 'Europe/Berlin': 730, 'America/New_York': 730, 'Australia/Lord_Howe': 730 },
  // every real quarter hour: offsets are whole quarter hours; both ends of the walk share an offset
  '*/15 * * * *': { 'Europe/Berlin': 730 * 96, 'America/New_York': 730 * 96, 'Australia/Lord_Howe': 730 * 96 },
  // 12 a day; Berlin's repeated hour is 02:00, which matches twice (real time) each autumn
  '0 */2 * * *': { 'Europe/Berlin': 730 * 12 + 2, 'America/New_York': 730 * 12, 'Australia/Lord_Howe': 730 * 12 },
  // 2026 and 2027 both have 261 weekdays
  '0 2 * * 1-5': { 'Europe/Berlin': 522, 'America/New_York': 522, 'Australia/Lord_Howe': 522 },
  '0 0 1 * *': { 'Europe/Berlin': 24, 'America/New_York': 24, 'Australia/Lord_Howe': 24 },
  // 120 a day; on spring-forward days the missing hour runs once (Berlin, New York), Lord Howe
  // loses 02:00-02:29 into one run at 02:30:00 (60 that day); the repeated hour is not 2 o'clock
  // in New York and Lord Howe, and a fixed hour runs once in Berlin
  '*/30 * 2 * * *': { 'Europe/Berlin': 728 * 120 + 2, 'America/New_York': 728 * 120 + 2, 'Australia/Lord_Howe': 728 * 120 + 2 * 60 },
};

/** Independent field check with luxon: does the local time of `t` match the rule's sets? */
function localMatches(rule: CronRule, zone: string, t: number): boolean {
  const d = DateTime.fromMillis(t, { zone });
  const dom = rule.daysOfMonth.includes(d.day);
  const dow = rule.daysOfWeek.includes(d.weekday % 7);
  return rule.seconds.includes(d.second) && rule.minutes.includes(d.minute) && rule.hours.includes(d.hour)
    && rule.months.includes(d.month) && (rule.dayMatch === 'either' ? dom || dow : dom && dow);
}
const offsetAt = (zone: string, t: number): number => DateTime.fromMillis(t, { zone }).offset;

describe.each(ZONES)('every occurrence of 2026 and 2027 in %s', (zone) => {
  const from = localDay(zone, '2026-01-01');
  const to = localDay(zone, '2028-01-01');
  it.each(Object.keys(COUNTS))('%s', (expr) => {
    const rule = parseCron(expr);
    const all = walk(rule, zone, from, to);
    expect(all.length).toBe(COUNTS[expr]![zone]);
    for (let i = 0; i < all.length; i++) {
      const t = all[i]!;
      if (i > 0 && !(t > all[i - 1]!)) throw new Error(`not rising at ${t}`); // never doubled, never backwards
      // the previous occurrence at an occurrence is itself, just before it the one before
      const at = previousOccurrence(rule, zone, t);
      const before = previousOccurrence(rule, zone, t - 1);
      if (at.status !== 'found' || at.at !== t) throw new Error(`previous(${t}) is not itself`);
      if (i > 0 && (before.status !== 'found' || before.at !== all[i - 1])) throw new Error(`previous(${t} - 1) is not the one before`);
    }
    if (expr === '*/15 * * * *') {
      for (let i = 1; i < all.length; i++) if (all[i]! - all[i - 1]! !== 900_000) throw new Error(`gap at ${iso([all[i]!])}`);
    } else if (all.length < 10_000) {
      // each is a local time matching the rule, or the first instant after a spring-forward gap
      for (const t of all) {
        if (!localMatches(rule, zone, t)) expect(offsetAt(zone, t)).toBeGreaterThan(offsetAt(zone, t - 1));
      }
    }
  });
});

describe('daylight-saving days, instant by instant', () => {
  it('Europe/Berlin, spring forward 2026-03-29 (02:00 CET -> 03:00 CEST at 01:00Z)', () => {
    const z = 'Europe/Berlin';
    expect(dayOf('0 2 * * *', z, '2026-03-29')).toEqual(['2026-03-29T01:00:00Z']); // 03:00 CEST
    expect(dayOf('30 2 * * *', z, '2026-03-29')).toEqual(['2026-03-29T01:00:00Z']);
    expect(dayOf('0 1 * * *', z, '2026-03-29')).toEqual(['2026-03-29T00:00:00Z']);
    expect(dayOf('*/30 * 2 * * *', z, '2026-03-29')).toEqual(['2026-03-29T01:00:00Z']);
    expect(dayOf('0 */2 * * *', z, '2026-03-29').slice(0, 4)).toEqual(['2026-03-28T23:00:00Z', '2026-03-29T01:00:00Z', '2026-03-29T02:00:00Z', '2026-03-29T04:00:00Z']);
    const quarters = dayOf('*/15 * * * *', z, '2026-03-29');
    expect(quarters.length).toBe(23 * 4);
    expect(quarters.slice(6, 9)).toEqual(['2026-03-29T00:30:00Z', '2026-03-29T00:45:00Z', '2026-03-29T01:00:00Z']);
    expect(dayOf('0 2 * * 1-5', z, '2026-03-29')).toEqual([]); // a Sunday
    expect(dayOf('0 2 * * 1-5', z, '2026-03-30')).toEqual(['2026-03-30T00:00:00Z']);
    expect(dayOf('0 2 * * *', z, '2027-03-28')).toEqual(['2027-03-28T01:00:00Z']);
  });

  it('Europe/Berlin, fall back 2026-10-25 (03:00 CEST -> 02:00 CET at 01:00Z)', () => {
    const z = 'Europe/Berlin';
    expect(dayOf('0 2 * * *', z, '2026-10-25')).toEqual(['2026-10-25T00:00:00Z']); // the first 02:00 (CEST) only
    expect(dayOf('30 2 * * *', z, '2026-10-25')).toEqual(['2026-10-25T00:30:00Z']);
    expect(dayOf('0 1 * * *', z, '2026-10-25')).toEqual(['2026-10-24T23:00:00Z']);
    const seconds = dayOf('*/30 * 2 * * *', z, '2026-10-25');
    expect(seconds.length).toBe(120);
    expect([seconds[0], seconds[119]]).toEqual(['2026-10-25T00:00:00Z', '2026-10-25T00:59:30Z']);
    expect(dayOf('0 */2 * * *', z, '2026-10-25').slice(0, 4)).toEqual(['2026-10-24T22:00:00Z', '2026-10-25T00:00:00Z', '2026-10-25T01:00:00Z', '2026-10-25T03:00:00Z']);
    const quarters = dayOf('*/15 * * * *', z, '2026-10-25');
    expect(quarters.length).toBe(25 * 4);
    expect(quarters.slice(7, 17)).toEqual(['2026-10-24T23:45:00Z', '2026-10-25T00:00:00Z', '2026-10-25T00:15:00Z', '2026-10-25T00:30:00Z', '2026-10-25T00:45:00Z',
      '2026-10-25T01:00:00Z', '2026-10-25T01:15:00Z', '2026-10-25T01:30:00Z', '2026-10-25T01:45:00Z', '2026-10-25T02:00:00Z']);
    expect(dayOf('0 2 * * *', z, '2027-10-31')).toEqual(['2027-10-31T00:00:00Z']);
  });

  it('America/New_York, 2026-03-08 (02:00 EST -> 03:00 EDT at 07:00Z) and 2026-11-01 (02:00 EDT -> 01:00 EST at 06:00Z)', () => {
    const z = 'America/New_York';
    expect(dayOf('0 2 * * *', z, '2026-03-08')).toEqual(['2026-03-08T07:00:00Z']);
    expect(dayOf('30 2 * * *', z, '2026-03-08')).toEqual(['2026-03-08T07:00:00Z']);
    expect(dayOf('0 1 * * *', z, '2026-03-08')).toEqual(['2026-03-08T06:00:00Z']);
    expect(dayOf('*/30 * 2 * * *', z, '2026-03-08')).toEqual(['2026-03-08T07:00:00Z']);
    expect(dayOf('0 */2 * * *', z, '2026-03-08').slice(0, 3)).toEqual(['2026-03-08T05:00:00Z', '2026-03-08T07:00:00Z', '2026-03-08T08:00:00Z']);
    expect(dayOf('*/15 * * * *', z, '2026-03-08').slice(7, 10)).toEqual(['2026-03-08T06:45:00Z', '2026-03-08T07:00:00Z', '2026-03-08T07:15:00Z']);
    expect(dayOf('0 1 * * *', z, '2026-11-01')).toEqual(['2026-11-01T05:00:00Z']); // the first 01:00 (EDT) only
    expect(dayOf('0 2 * * *', z, '2026-11-01')).toEqual(['2026-11-01T07:00:00Z']);
    expect(dayOf('30 2 * * *', z, '2026-11-01')).toEqual(['2026-11-01T07:30:00Z']);
    expect(dayOf('0 */2 * * *', z, '2026-11-01').slice(0, 3)).toEqual(['2026-11-01T04:00:00Z', '2026-11-01T07:00:00Z', '2026-11-01T09:00:00Z']);
    const quarters = dayOf('*/15 * * * *', z, '2026-11-01');
    expect(quarters.length).toBe(100);
    expect(quarters.slice(4, 13)).toEqual(['2026-11-01T05:00:00Z', '2026-11-01T05:15:00Z', '2026-11-01T05:30:00Z', '2026-11-01T05:45:00Z',
      '2026-11-01T06:00:00Z', '2026-11-01T06:15:00Z', '2026-11-01T06:30:00Z', '2026-11-01T06:45:00Z', '2026-11-01T07:00:00Z']);
    expect(dayOf('0 2 * * *', z, '2027-03-14')).toEqual(['2027-03-14T07:00:00Z']);
    expect(dayOf('0 1 * * *', z, '2027-11-07')).toEqual(['2027-11-07T05:00:00Z']);
  });

  it('Australia/Lord_Howe, 30-minute shifts: 2026-10-04 (02:00 -> 02:30 at 15:30Z the day before) and 2026-04-05 (02:00 -> 01:30 at 15:00Z)', () => {
    const z = 'Australia/Lord_Howe';
    expect(dayOf('0 2 * * *', z, '2026-10-04')).toEqual(['2026-10-03T15:30:00Z']); // 02:30 +11:00
    expect(dayOf('30 2 * * *', z, '2026-10-04')).toEqual(['2026-10-03T15:30:00Z']); // exists: 02:30 +11:00
    expect(dayOf('0 1 * * *', z, '2026-10-04')).toEqual(['2026-10-03T14:30:00Z']);
    const seconds = dayOf('*/30 * 2 * * *', z, '2026-10-04');
    expect(seconds.length).toBe(60);
    expect([seconds[0], seconds[1], seconds[59]]).toEqual(['2026-10-03T15:30:00Z', '2026-10-03T15:30:30Z', '2026-10-03T15:59:30Z']);
    expect(dayOf('0 */2 * * *', z, '2026-10-04').slice(0, 3)).toEqual(['2026-10-03T13:30:00Z', '2026-10-03T15:30:00Z', '2026-10-03T17:00:00Z']);
    expect(dayOf('*/15 * * * *', z, '2026-10-04').slice(6, 9)).toEqual(['2026-10-03T15:00:00Z', '2026-10-03T15:15:00Z', '2026-10-03T15:30:00Z']);
    expect(dayOf('*/15 * * * *', z, '2026-10-04').length).toBe(94);
    expect(dayOf('0 1 * * *', z, '2026-04-05')).toEqual(['2026-04-04T14:00:00Z']);
    expect(dayOf('30 1 * * *', z, '2026-04-05')).toEqual(['2026-04-04T14:30:00Z']); // the first 01:30 (+11:00) only
    expect(dayOf('0 2 * * *', z, '2026-04-05')).toEqual(['2026-04-04T15:30:00Z']); // 02:00 +10:30 exists once
    const quarters = dayOf('*/15 * * * *', z, '2026-04-05');
    expect(quarters.length).toBe(98);
    expect(quarters.slice(6, 11)).toEqual(['2026-04-04T14:30:00Z', '2026-04-04T14:45:00Z', '2026-04-04T15:00:00Z', '2026-04-04T15:15:00Z', '2026-04-04T15:30:00Z']);
    expect(dayOf('0 2 * * *', z, '2027-10-03')).toEqual(['2027-10-02T15:30:00Z']);
    expect(dayOf('0 2 * * *', z, '2027-04-04')).toEqual(['2027-04-03T15:30:00Z']);
  });
});

describe('bounds', () => {
  it('finds a leap day 8 years ahead and refuses instants outside 1900-9000', () => {
    const leap = parseCron('0 0 29 2 *');
    expect(nextOccurrence(leap, 'UTC', Z('2096-03-01T00:00:00Z'))).toEqual({ status: 'found', at: Z('2104-02-29T00:00:00Z') });
    expect(previousOccurrence(leap, 'UTC', Z('2104-02-28T00:00:00Z'))).toEqual({ status: 'found', at: Z('2096-02-29T00:00:00Z') });
    expect(nextOccurrence(leap, 'UTC', Z('8998-01-01T00:00:00Z')).status).toBe('none');
    expect(() => nextOccurrence(leap, 'UTC', Number.NaN)).toThrow(RangeError);
    expect(() => previousOccurrence(leap, 'UTC', 1e17)).toThrow(RangeError);
    expect(() => nextOccurrence(leap, 'Nowhere/Land', 0)).toThrow(/schedule\.timeZone/);
  });

  it('is strictly after, and previous is at or before', () => {
    const rule = parseCron('0 2 * * *');
    const at = Z('2026-06-01T00:00:00Z'); // 02:00 CEST
    expect(nextOccurrence(rule, 'Europe/Berlin', at - 1)).toEqual({ status: 'found', at });
    expect(nextOccurrence(rule, 'Europe/Berlin', at)).toEqual({ status: 'found', at: at + 86_400_000 });
    expect(previousOccurrence(rule, 'Europe/Berlin', at)).toEqual({ status: 'found', at });
    expect(previousOccurrence(rule, 'Europe/Berlin', at - 1)).toEqual({ status: 'found', at: at - 86_400_000 });
  });
});
