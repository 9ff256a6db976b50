/**
 * Calendar schedules: cron rules in IANA time zones, with Vixie cron's daylight-saving rules.
 * Pure functions, no clock and no timers: the scheduler asks for the next (or previous)
 * occurrence of a rule around an instant. See docs/calendar.md.
 */
import { InvalidFabricError } from '../errors.js';
import { parseCron, type CronRule } from './cron.js';
import { validateTimeZone } from './zone.js';

export { MAX_CRON_LENGTH, parseCron, type CronRule } from './cron.js';
export { nextOccurrence, previousOccurrence, SEARCH_HORIZON_MS, type Occurrence } from './occurrences.js';
export { DEFAULT_TIME_ZONE, validateTimeZone } from './zone.js';

/** A fabric's calendar schedule as the host writes it. */
export interface ScheduleInput {
  /** Cron expression, five fields or six with seconds first (see docs/calendar.md). */
  readonly cron: string;
  /**
   * IANA time zone the rule's local times are read in.
   * @default 'UTC'
   */
  readonly timeZone?: string;
}

/** A validated schedule: the expression and zone as given (zone defaulted) and the parsed rule. */
export interface CalendarSchedule {
  readonly cron: string;
  readonly timeZone: string;
  readonly rule: CronRule;
}

/**
 * Validates a `schedule` value (`{ cron, timeZone? }`, no other keys) and returns a frozen
 * {@link CalendarSchedule}. Throws {@link InvalidFabricError} naming `schedule`,
 * `schedule.cron` or `schedule.timeZone`.
 */
export function parseSchedule(value: unknown, fabricId?: string): CalendarSchedule {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidFabricError('schedule', 'an object { cron, timeZone? }', value, fabricId);
  }
  const unknown = Object.keys(value).filter((key) => key !== 'cron' && key !== 'timeZone');
  if (unknown.length > 0) {
    throw new InvalidFabricError('schedule', `an object { cron, timeZone? } without other keys (found ${unknown.slice(0, 5).join(', ')})`, value, fabricId);
  }
  const { cron, timeZone } = value as { cron?: unknown; timeZone?: unknown };
  const rule = parseCron(cron, fabricId);
  return Object.freeze({ cron: rule.source, timeZone: validateTimeZone(timeZone, fabricId), rule });
}
