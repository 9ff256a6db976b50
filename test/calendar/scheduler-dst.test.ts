/**
 * Calendar fabrics on a real scheduler and a fake clock, through the daylight-saving changes of
 * 2026 and 2027 in Europe/Berlin, America/New_York and Australia/Lord_Howe: every run is checked
 * to the millisecond against the occurrences (walked with the pure engine, itself checked against
 * luxon in dst-walk.test.ts), and the DST days against docs/calendar.md's rules written out.
 */
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { nextOccurrence, parseCron } from '../../src/calendar/index.js';
import { makeHarness } from '../helpers/harness.js';

const DAY = 86_400_000;
const localDay = (zone: string, date: string): number => DateTime.fromISO(`${date}T00:00:00`, { zone }).toMillis();
const iso = (t: number): string => new Date(t).toISOString().replace('.000Z', 'Z');

function walk(cron: string, zone: string, after: number, to: number): number[] {
  const rule = parseCron(cron);
  const out: number[] = [];
  for (let t = after; ; ) {
    const next = nextOccurrence(rule, zone, t);
    if (next.status !== 'found' || next.at >= to) return out;
    out.push(next.at);
    t = next.at;
  }
}

/** Rules per zone, and what docs/calendar.md says their DST days look like (UTC instants). */
const CASES: Array<{ zone: string; cron: string; days: Record<string, string[]> }> = [
  {
    zone: 'Europe/Berlin',
    cron: '30 2 * * *',
    days: {
      // 02:30 does not exist: once, at the first instant after the gap (03:00 CEST)
      '2026-03-29': ['2026-03-29T01:00:00Z'],
      '2027-03-28': ['2027-03-28T01:00:00Z'],
      // 02:30 exists twice and the hour is fixed: once, at the first (CEST)
      '2026-10-25': ['2026-10-25T00:30:00Z'],
      '2027-10-31': ['2027-10-31T00:30:00Z'],
    },
  },
  {
    zone: 'Europe/Berlin',
    cron: '0 */2 * * *',
    days: {
      // the hour is a step: real time; 02:00 does not exist and runs at 03:00 CEST
      '2026-03-29': ['2026-03-28T23:00:00Z', '2026-03-29T01:00:00Z', '2026-03-29T02:00:00Z', '2026-03-29T04:00:00Z', '2026-03-29T06:00:00Z', '2026-03-29T08:00:00Z', '2026-03-29T10:00:00Z', '2026-03-29T12:00:00Z', '2026-03-29T14:00:00Z', '2026-03-29T16:00:00Z', '2026-03-29T18:00:00Z', '2026-03-29T20:00:00Z'],
      // 02:00 exists twice: both real instants run
      '2026-10-25': ['2026-10-24T22:00:00Z', '2026-10-25T00:00:00Z', '2026-10-25T01:00:00Z', '2026-10-25T03:00:00Z', '2026-10-25T05:00:00Z', '2026-10-25T07:00:00Z', '2026-10-25T09:00:00Z', '2026-10-25T11:00:00Z', '2026-10-25T13:00:00Z', '2026-10-25T15:00:00Z', '2026-10-25T17:00:00Z', '2026-10-25T19:00:00Z', '2026-10-25T21:00:00Z'],
    },
  },
  {
    zone: 'America/New_York',
    cron: '30 2 * * *',
    days: {
      '2026-03-08': ['2026-03-08T07:00:00Z'],
      '2027-03-14': ['2027-03-14T07:00:00Z'],
      // the repeated hour is 01:00: 02:30 happens once, in EST
      '2026-11-01': ['2026-11-01T07:30:00Z'],
      '2027-11-07': ['2027-11-07T07:30:00Z'],
    },
  },
  {
    zone: 'America/New_York',
    cron: '30 1 * * 1-5,0',
    days: {
      // 01:30 exists twice on the fall-back Sunday: once, at the first (EDT)
      '2026-11-01': ['2026-11-01T05:30:00Z'],
      '2027-11-07': ['2027-11-07T05:30:00Z'],
      '2026-03-08': ['2026-03-08T06:30:00Z'],
    },
  },
  {
    zone: 'Australia/Lord_Howe',
    cron: '15 2 * * *',
    days: {
      // clocks go 02:00 -> 02:30 (a 30-minute gap): 02:15 runs at 02:30 (+11:00)
      '2026-10-04': ['2026-10-03T15:30:00Z'],
      '2027-10-03': ['2027-10-02T15:30:00Z'],
      // back 02:00 -> 01:30: 02:15 happens once (+10:30)
      '2026-04-05': ['2026-04-04T15:45:00Z'],
      '2027-04-04': ['2027-04-03T15:45:00Z'],
    },
  },
  {
    zone: 'Australia/Lord_Howe',
    cron: '45 1 * * *',
    days: {
      // 01:30-01:59 exists twice: 01:45 runs once, at the first (+11:00)
      '2026-04-05': ['2026-04-04T14:45:00Z'],
      '2027-04-04': ['2027-04-03T14:45:00Z'],
      '2026-10-04': ['2026-10-03T15:15:00Z'],
    },
  },
];

describe.each(CASES)('a calendar fabric "$cron" in $zone through 2026 and 2027', ({ zone, cron, days }) => {
  it('syncs at once, then at every occurrence to the millisecond, none lost or doubled', async () => {
    const start = localDay(zone, '2026-01-01') - 3_600_000;
    const end = localDay(zone, '2028-01-01');
    const h = makeHarness({ now: start, behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'cal', schedule: { cron, timeZone: zone } });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    expect(h.runs[0]).toMatchObject({ start, scheduledAt: start, trigger: 'schedule' });
    const expected = walk(cron, zone, start, end);
    expect((await h.scheduler.getFabricStatus('cal'))?.nextSyncAt).toBe(expected[0]);
    for (let t = start; t < end; t += DAY) await h.clock.tickAsync(DAY);
    const runs = h.runs.slice(1).filter((r) => r.scheduledAt < end);
    expect(runs.map((r) => iso(r.scheduledAt))).toEqual(expected.map(iso));
    for (const r of runs) {
      expect(r.start).toBe(r.scheduledAt); // never early, never late
      expect(r.trigger).toBe('schedule');
    }
    expect(h.eventsOf('sync:missed')).toEqual([]);
    expect(h.overlaps).toEqual([]);
    for (const [date, instants] of Object.entries(days)) {
      const from = localDay(zone, date);
      const to = DateTime.fromMillis(from, { zone }).plus({ days: 1 }).toMillis();
      expect(runs.filter((r) => r.scheduledAt >= from && r.scheduledAt < to).map((r) => iso(r.scheduledAt)), `${zone} ${date}`).toEqual(instants);
    }
    await h.scheduler.stop({ inFlight: 'abort' });
  }, 60_000);
});
