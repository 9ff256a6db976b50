import { describe, expect, it } from 'vitest';
import { InvalidFabricError } from '../../src/errors.js';
import { MAX_CRON_LENGTH, parseCron, parseSchedule, validateTimeZone } from '../../src/calendar/index.js';

const range = (from: number, to: number, step = 1): number[] => {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
};

describe('parseCron', () => {
  it('parses five fields into sorted, frozen sets', () => {
    const rule = parseCron('  0,30 2 * * 1-5 ');
    expect(rule).toEqual({
      source: '0,30 2 * * 1-5',
      seconds: [0],
      minutes: [0, 30],
      hours: [2],
      daysOfMonth: range(1, 31),
      months: range(1, 12),
      daysOfWeek: [1, 2, 3, 4, 5],
      dayMatch: 'both',
      fixedHour: true,
    });
    expect(Object.isFrozen(rule)).toBe(true);
    expect(Object.isFrozen(rule.minutes)).toBe(true);
  });

  it('reads six fields with seconds first', () => {
    const rule = parseCron('*/30 * 2 * * *');
    expect(rule.seconds).toEqual([0, 30]);
    expect(rule.minutes).toEqual(range(0, 59));
    expect(rule.hours).toEqual([2]);
    expect(rule.fixedHour).toBe(true);
  });

  it('understands names in any case, ranges, steps, lists and 7 as Sunday', () => {
    const rule = parseCron('5-20/5 */6 1,15 JAN-mar,Dec Sun,7,fri-sat');
    expect(rule.minutes).toEqual([5, 10, 15, 20]);
    expect(rule.hours).toEqual([0, 6, 12, 18]);
    expect(rule.daysOfMonth).toEqual([1, 15]);
    expect(rule.months).toEqual([1, 2, 3, 12]);
    expect(rule.daysOfWeek).toEqual([0, 5, 6]);
    expect(rule.fixedHour).toBe(false); // `*/6` follows real time
    expect(parseCron('0 0 * * 5-7').daysOfWeek).toEqual([0, 5, 6]);
    expect(parseCron('10/20 * * * *').minutes).toEqual([10, 30, 50]);
    expect(parseCron('0 0-23/2 * * *').fixedHour).toBe(false); // a step anywhere in the hour field
    expect(parseCron('0 1-3 * * *').fixedHour).toBe(true); // a plain range is fixed (as Vixie cron)
    expect(parseCron('0 1,3 * * *').fixedHour).toBe(true);
  });

  it('applies the Vixie day rule: either day field when both are restricted', () => {
    expect(parseCron('0 0 1 * 1').dayMatch).toBe('either');
    expect(parseCron('0 0 * * 1').dayMatch).toBe('both');
    expect(parseCron('0 0 1 * *').dayMatch).toBe('both');
    expect(parseCron('0 0 */2 * 1').dayMatch).toBe('both'); // `*/2` starts with `*`: unrestricted, as in Vixie
    expect(parseCron('0 0 ? * 1').dayMatch).toBe('both');
  });

  it('expands the macros', () => {
    const same = (a: string, b: string): void => expect({ ...parseCron(a), source: '' }).toEqual({ ...parseCron(b), source: '' });
    same('@yearly', '0 0 1 1 *');
    same('@ANNUALLY', '0 0 1 1 *');
    same('@monthly', '0 0 1 * *');
    same('@weekly', '0 0 * * 0');
    same('@daily', '0 0 * * *');
    same('@midnight', '0 0 * * *');
    same('@hourly', '0 * * * *');
    expect(parseCron('@hourly').fixedHour).toBe(false);
    expect(parseCron('@daily').source).toBe('@daily');
  });

  const refused: [string, unknown, RegExp][] = [
    ['empty', '', /5 fields/],
    ['blank', '   ', /5 fields/],
    ['not a string', 42, /5 fields/],
    ['too few fields', '* * * *', /found 4 fields/],
    ['too many fields', '* * * * * * *', /found 7 fields/],
    ['minute out of range', '60 * * * *', /minute field "60": 60 is outside 0-59/],
    ['hour out of range', '0 24 * * *', /hour field "24": 24 is outside 0-23/],
    ['day 0', '0 0 0 * *', /day-of-month field "0": 0 is outside 1-31/],
    ['month 13', '0 0 1 13 *', /month field/],
    ['day-of-week 8', '0 0 * * 8', /day-of-week field/],
    ['backward range', '5-1 * * * *', /range 5-1 runs backwards/],
    ['step 0', '*/0 * * * *', /step from 1 to 59/],
    ['step too large', '*/60 * * * *', /step from 1 to 59/],
    ['step not a number', '*/x * * * *', /step from 1 to 59/],
    ['two slashes', '*/2/3 * * * *', /more than one "\/"/],
    ['garbage', 'every day at noon please', /expected a number or name/],
    ['unknown name', '0 0 * foo *', /expected a number or name/],
    ['name in the wrong field', '0 0 * * jan', /expected a number or name/],
    ['negative', '-1 * * * *', /expected a number or name/],
    ['empty list item', '1,,2 * * * *', /empty list item/],
    ['question mark outside the day fields', '? * * * *', /expected a number or name/],
    ['L, W and #', '0 0 L * *', /expected a number or name/],
    ['nth weekday', '0 0 * * 1#2', /expected a number or name/],
    ['decimal', '1.5 * * * *', /expected a number or name/],
    ['unknown macro', '@reboot', /unknown macro/],
    ['a day that never exists', '0 0 30 2 *', /day-of-month that exists/],
    ['31 April and June', '0 0 31 4,6 *', /day-of-month that exists/],
    ['huge', `${'1,'.repeat(5000)}1 * * * *`, new RegExp(`at most ${MAX_CRON_LENGTH} characters`)],
  ];
  it.each(refused)('refuses %s', (_name, expr, message) => {
    let error: unknown;
    try {
      parseCron(expr, 'fab-1');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidFabricError);
    const invalid = error as InvalidFabricError;
    expect(invalid.field).toBe('schedule.cron');
    expect(invalid.fabricId).toBe('fab-1');
    expect(invalid.value).toBe(expr);
    expect(invalid.message).toMatch(/^Expected schedule\.cron to be a cron expression/);
    expect(invalid.message).toMatch(message);
    expect(invalid.message.length).toBeLessThan(600);
  });

  it('accepts a leap day with an unrestricted day-of-week, and 30 Feb when the day-of-week can match', () => {
    expect(parseCron('0 0 29 2 *').daysOfMonth).toEqual([29]);
    expect(parseCron('0 0 30 2 1').dayMatch).toBe('either'); // every Monday in February
  });
});

describe('time zones and schedules', () => {
  it('validates IANA names and defaults to UTC', () => {
    expect(validateTimeZone(undefined)).toBe('UTC');
    expect(validateTimeZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(validateTimeZone('Australia/Lord_Howe')).toBe('Australia/Lord_Howe');
    for (const bad of ['Mars/Olympus_Mons', '+02:00', '', 'Europe/Berlin ', 42, null, 'x'.repeat(500)]) {
      expect(() => validateTimeZone(bad, 'f')).toThrow(InvalidFabricError);
      try {
        validateTimeZone(bad, 'f');
      } catch (error) {
        expect((error as InvalidFabricError).field).toBe('schedule.timeZone');
        expect((error as InvalidFabricError).message).toMatch(/^Expected schedule\.timeZone to be an IANA time zone name/);
      }
    }
  });

  it('parseSchedule checks the object, its keys, the rule and the zone', () => {
    const schedule = parseSchedule({ cron: '0 2 * * *', timeZone: 'Europe/Berlin' });
    expect(schedule.cron).toBe('0 2 * * *');
    expect(schedule.timeZone).toBe('Europe/Berlin');
    expect(schedule.rule.hours).toEqual([2]);
    expect(Object.isFrozen(schedule)).toBe(true);
    expect(parseSchedule({ cron: '@daily' }).timeZone).toBe('UTC');
    const field = (value: unknown): string | undefined => {
      try {
        parseSchedule(value, 'f');
      } catch (error) {
        return error instanceof InvalidFabricError ? error.field : 'other';
      }
      return undefined;
    };
    expect(field(null)).toBe('schedule');
    expect(field('0 2 * * *')).toBe('schedule');
    expect(field({ cron: '0 2 * * *', tz: 'UTC' })).toBe('schedule');
    expect(field({})).toBe('schedule.cron');
    expect(field({ cron: '0 25 * * *' })).toBe('schedule.cron');
    expect(field({ cron: '0 2 * * *', timeZone: 'Nowhere/Land' })).toBe('schedule.timeZone');
  });
});
