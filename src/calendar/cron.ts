/**
 * Cron expressions: parse and validate into a frozen, normalized rule.
 *
 * Five fields (`minute hour day-of-month month day-of-week`) or six with seconds first; names
 * (`jan`-`dec`, `sun`-`sat`, any case), `*`, `a`, `a-b`, `*\/n`, `a-b/n`, `a/n` (= `a-max/n`),
 * lists of those; `7` is Sunday too; `?` means `*` in the two day fields; `@yearly`,
 * `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`. Everything else is
 * refused with an {@link InvalidFabricError} on `schedule.cron` that says what was expected.
 * See docs/calendar.md.
 */
import { InvalidFabricError } from '../errors.js';

/** A parsed cron expression. Every array is sorted ascending, without duplicates. */
export interface CronRule {
  /** The expression as given (trimmed), for display. */
  readonly source: string;
  /** 0-59; `[0]` for a five-field expression. */
  readonly seconds: readonly number[];
  /** 0-59. */
  readonly minutes: readonly number[];
  /** 0-23. */
  readonly hours: readonly number[];
  /** 1-31. */
  readonly daysOfMonth: readonly number[];
  /** 1-12. */
  readonly months: readonly number[];
  /** 0-6, 0 = Sunday (`7` in the expression is stored as 0). */
  readonly daysOfWeek: readonly number[];
  /**
   * Vixie cron's day rule: when both day fields are restricted (neither starts with `*`), a day
   * matches if either matches; otherwise both must (an unrestricted field matches every day).
   */
  readonly dayMatch: 'both' | 'either';
  /**
   * The hour field is fixed (values, lists, ranges without a step): a local time that exists
   * twice when clocks fall back runs once, at its first occurrence. An hour field written with
   * `*` or a step follows real time instead (every real instant that matches runs).
   */
  readonly fixedHour: boolean;
}

/** Longest expression looked at; longer input is refused before any parsing. */
export const MAX_CRON_LENGTH = 1024;

const FIELD = 'schedule.cron';
const SHAPE = 'a cron expression of 5 fields (minute hour day-of-month month day-of-week) or 6 (second first), or @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly';

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[]; // names[i] is the value min + i
}

const SECOND: FieldSpec = { name: 'second', min: 0, max: 59 };
const MINUTE: FieldSpec = { name: 'minute', min: 0, max: 59 };
const HOUR: FieldSpec = { name: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldSpec = {
  name: 'month', min: 1, max: 12,
  names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
};
const DAY_OF_WEEK: FieldSpec = { name: 'day-of-week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] };

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Longest day of each month (February 29: a leap year comes at least every 8 years). */
const MONTH_MAX_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

interface ParsedField {
  readonly values: number[];
  /** Written starting with `*` (or `?`): Vixie cron's "unrestricted" flag. */
  readonly star: boolean;
  /** Has a step (`/n`) anywhere. */
  readonly stepped: boolean;
}

/**
 * Parses a cron expression. Throws {@link InvalidFabricError} (field `schedule.cron`) when the
 * expression is refused; `fabricId` only goes into that error.
 */
export function parseCron(expr: unknown, fabricId?: string): CronRule {
  const refuse = (expected: string): never => {
    throw new InvalidFabricError(FIELD, expected, expr, fabricId);
  };
  if (typeof expr !== 'string') return refuse(SHAPE);
  if (expr.length > MAX_CRON_LENGTH) return refuse(`${SHAPE}, at most ${MAX_CRON_LENGTH} characters`);
  const source = expr.trim();
  if (source === '') return refuse(SHAPE);
  let text = source;
  if (text.startsWith('@')) {
    const macro = MACROS[text.toLowerCase()];
    if (macro === undefined) return refuse(`${SHAPE} (unknown macro ${JSON.stringify(text.slice(0, 20))})`);
    text = macro;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) return refuse(`${SHAPE} (found ${parts.length} fields)`);
  const specs = parts.length === 6 ? [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK] : [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK];
  const fields = parts.map((part, i) => parseField(part, specs[i]!, refuse));
  const [second, minute, hour, dom, month, dow] = parts.length === 6 ? fields : [{ values: [0], star: false, stepped: false }, ...fields];
  const daysOfWeek = [...new Set(dow!.values.map((d) => d % 7))].sort((a, b) => a - b);
  const dayMatch = dom!.star || dow!.star ? 'both' : 'either';
  // A rule whose days exist in no month can never run: refuse it rather than search forever.
  if (dayMatch === 'both' || dow!.star) {
    const possible = month!.values.some((m) => dom!.values.some((d) => d <= MONTH_MAX_DAYS[m - 1]!));
    if (!possible) return refuse(`${SHAPE}, with a day-of-month that exists in one of its months`);
  }
  return Object.freeze({
    source,
    seconds: Object.freeze(second!.values),
    minutes: Object.freeze(minute!.values),
    hours: Object.freeze(hour!.values),
    daysOfMonth: Object.freeze(dom!.values),
    months: Object.freeze(month!.values),
    daysOfWeek: Object.freeze(daysOfWeek),
    dayMatch,
    fixedHour: !hour!.star && !hour!.stepped,
  });
}

const NUMBER = /^\d{1,9}$/;
const NAME = /^[a-z]{3}$/i;

function parseField(text: string, spec: FieldSpec, refuse: (expected: string) => never): ParsedField {
  const wrong = (what: string): never =>
    refuse(`${SHAPE}; its ${spec.name} field ${JSON.stringify(text.slice(0, 40))}: ${what}`);
  const range = `${spec.min}-${spec.max}${spec.names ? ` or ${spec.names[0]}-${spec.names[spec.names.length - 1]}` : ''}`;
  const value = (token: string): number => {
    if (NUMBER.test(token)) {
      const n = Number(token);
      if (n < spec.min || n > spec.max) wrong(`${n} is outside ${range}`);
      return n;
    }
    if (spec.names && NAME.test(token)) {
      const i = spec.names.indexOf(token.toLowerCase());
      if (i >= 0) return spec.min + i;
    }
    return wrong(`expected a number or name in ${range}, got ${JSON.stringify(token.slice(0, 20))}`);
  };
  const isDayField = spec === DAY_OF_MONTH || spec === DAY_OF_WEEK;
  const values = new Set<number>();
  let star = false;
  let stepped = false;
  const items = text.split(',');
  for (const [index, item] of items.entries()) {
    if (item === '') wrong('empty list item');
    const slash = item.split('/');
    if (slash.length > 2) wrong(`more than one "/" in ${JSON.stringify(item.slice(0, 20))}`);
    const [base, stepText] = slash as [string, string | undefined];
    let from: number;
    let to: number;
    if (base === '*' || (base === '?' && isDayField)) {
      if (index === 0) star = true;
      from = spec.min;
      to = spec === DAY_OF_WEEK ? 6 : spec.max;
    } else if (base.includes('-')) {
      const bounds = base.split('-');
      if (bounds.length !== 2) wrong(`expected a range a-b, got ${JSON.stringify(base.slice(0, 20))}`);
      from = value(bounds[0]!);
      to = value(bounds[1]!);
      if (from > to) wrong(`range ${from}-${to} runs backwards`);
    } else {
      from = value(base);
      to = stepText === undefined ? from : spec === DAY_OF_WEEK ? 6 : spec.max;
    }
    let step = 1;
    if (stepText !== undefined) {
      stepped = true;
      const span = spec.max - spec.min;
      if (!NUMBER.test(stepText) || Number(stepText) < 1 || Number(stepText) > span) {
        wrong(`expected a step from 1 to ${span}, got ${JSON.stringify(stepText.slice(0, 20))}`);
      }
      step = Number(stepText);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return { values: [...values].sort((a, b) => a - b), star, stepped };
}
