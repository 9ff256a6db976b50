/** Durations: milliseconds or strict ISO-8601 strings, range-checked. */
import { InvalidOptionError } from './errors.js';

/**
 * Longest duration accepted anywhere (a fabric's `syncInterval` and `syncTimeout`, duration
 * options), ms: 36,500 days (`'P36500D'`, about 100 years). With it, every grid slot of every
 * fabric anchored inside the `Date` range (±8.64e15 ms) stays a safe integer.
 */
export const MAX_DURATION_MS = 36_500 * 86_400_000;

// ---------------------------------------------------------------------------------------------
// Durations

const COMPONENT = '(\\d+(?:[.,]\\d+)?)';
/** `P[nY][nM][nW][nD][T[nH][nM][nS]]`, upper case only; Y and M are matched only to be refused by name. */
const ISO_DURATION = new RegExp(`^P(?:${COMPONENT}Y)?(?:${COMPONENT}M)?(?:${COMPONENT}W)?(?:${COMPONENT}D)?(?:T(?:${COMPONENT}H)?(?:${COMPONENT}M)?(?:${COMPONENT}S)?)?$`);
/** Milliseconds per unit of capture groups 3..7 (W, D, H, M, S). */
const UNIT_MS = [0n, 0n, 0n, 604_800_000n, 86_400_000n, 3_600_000n, 60_000n, 1_000n] as const;

/**
 * Strict ISO-8601 duration parser: `PnW`, `PnD`, `PTnH`, `PTnM`, `PTnS` and their combinations
 * (`'P1DT12H'`, `'PT1M30S'`, `'PT0.25S'`), upper case, no sign, no spaces. A decimal fraction is
 * allowed on the last component only and must come out as whole milliseconds. Weeks are 7 days
 * and days 24 hours (this is elapsed time, not calendar arithmetic).
 */
function parseIsoDuration(text: string): { ms: number } | { problem: string } {
  if (text.includes('-')) return { problem: 'negative durations and components are not allowed' };
  const m = ISO_DURATION.exec(text);
  if (m === null || text === 'P' || text.endsWith('T')) return { problem: 'not an ISO-8601 duration of the form PnW, PnDTnHnMnS' };
  if (m[1] !== undefined || m[2] !== undefined) return { problem: "months and years vary in length; use days, e.g. 'P30D'" };
  let last = 0;
  for (let i = 3; i <= 7; i++) if (m[i] !== undefined) last = i;
  let total = 0n;
  for (let i = 3; i <= 7; i++) {
    const part = m[i];
    if (part === undefined) continue;
    const [whole = '0', fraction = ''] = part.split(/[.,]/);
    if (fraction !== '' && i !== last) return { problem: 'only the last component may have a decimal fraction' };
    const unit = UNIT_MS[i]!;
    const scale = 10n ** BigInt(fraction.length);
    const fractionMs = BigInt(fraction || '0') * unit;
    if (fractionMs % scale !== 0n) return { problem: 'the duration must be a whole number of milliseconds' };
    total += BigInt(whole) * unit + fractionMs / scale;
  }
  return { ms: Number(total) };
}

/**
 * Parses a duration given as milliseconds or as an ISO-8601 duration string (`'PT1M'`, `'P1DT12H'`,
 * `'P2W'`; months and years are refused because their length varies). Returns NaN when the value
 * is not a duration at all; range checks are the caller's.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return Number.NaN;
  const parsed = parseIsoDuration(value);
  return 'ms' in parsed ? parsed.ms : Number.NaN;
}

/**
 * Checks a duration against `[min, MAX_DURATION_MS]`. Returns the milliseconds, or what to add to
 * the "expected" text of the error (possibly '') when the value is refused.
 */
export function checkDuration(value: unknown, min: 0 | 1): number | { hint: string } {
  let ms: number;
  if (typeof value === 'string') {
    const parsed = parseIsoDuration(value);
    if ('problem' in parsed) return { hint: ` (${parsed.problem})` };
    ms = parsed.ms;
  } else ms = typeof value === 'number' ? value : Number.NaN;
  if (Number.isInteger(ms) && ms > MAX_DURATION_MS) return { hint: ` (at most ${MAX_DURATION_MS} ms, 'P36500D')` };
  if (!(Number.isSafeInteger(ms) && ms >= min)) return { hint: '' };
  return ms;
}

/** Validates a millisecond option (or ISO-8601 duration) for `createScheduler` and adapters. */
export function durationOption(name: string, value: unknown, fallback: number, opts: { allowZero?: boolean; allowInfinity?: boolean } = {}): number {
  if (value === undefined) return fallback;
  if (opts.allowInfinity && value === Number.POSITIVE_INFINITY) return value;
  const ms = checkDuration(value, opts.allowZero ? 0 : 1);
  if (typeof ms !== 'number') {
    throw new InvalidOptionError(name, `a ${opts.allowZero ? 'non-negative' : 'positive'} integer number of ms${opts.allowInfinity ? ' or Infinity' : ''}${ms.hint}`, value);
  }
  return ms;
}

export function isPositiveMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms > 0;
}

export function isNonNegativeMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0;
}
