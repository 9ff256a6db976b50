import { describe, expect, it } from 'vitest';
import { MAX_DURATION_MS, durationOption, normalizeFabric, parseDuration } from '../../src/definition.js';
import { expectOptionRefused, expectRefused } from './expect-refused.js';

const norm = (def: unknown) => normalizeFabric(def, { syncTimeout: 0 });
const BASE = 'a positive integer number of ms or an ISO-8601 duration such as "PT1M"';

describe('ISO-8601 durations (strict parser)', () => {
  it.each([
    ['PT1M', 60_000],
    ['PT1M30S', 90_000],
    ['PT0.5S', 500],
    ['PT0,25S', 250],
    ['PT1.5M', 90_000],
    ['P1DT12H', 129_600_000],
    ['P2W', 14 * 86_400_000],
    ['P1W2D', 9 * 86_400_000],
    ['P30D', 30 * 86_400_000],
    ['PT36H', 36 * 3_600_000],
    ['P36500D', MAX_DURATION_MS],
  ])('accepts %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(norm({ id: 'f', syncInterval: text }).syncInterval).toBe(ms);
  });

  it.each([
    ['P1M', /months and years vary in length; use days, e.g. 'P30D'/],
    ['P1Y', /months and years vary in length; use days, e.g. 'P30D'/],
    ['P1Y2M3D', /months and years vary in length/],
    ['PT1M-59S', /negative durations and components are not allowed/],
    ['-PT1M', /negative durations/],
    ['P-1D', /negative durations/],
    ['P', /not an ISO-8601 duration/],
    ['PT', /not an ISO-8601 duration/],
    ['P1DT', /not an ISO-8601 duration/],
    ['pt1m', /not an ISO-8601 duration/],
    [' PT1M', /not an ISO-8601 duration/],
    ['PT1M ', /not an ISO-8601 duration/],
    ['PT1S1M', /not an ISO-8601 duration/],
    ['1000', /not an ISO-8601 duration/],
    ['PT0.0001S', /whole number of milliseconds/],
    ['PT1.5M1S', /only the last component may have a decimal fraction/],
    ['P36501D', /at most 3153600000000 ms, 'P36500D'/],
    ['P1000000000000W', /at most 3153600000000 ms/],
  ])('refuses %s, saying why', (text, why) => {
    expectRefused(() => norm({ id: 'f', syncInterval: text }), { field: 'syncInterval', expected: why, got: `string ${JSON.stringify(text)}` });
    expectRefused(() => norm({ id: 'f', syncInterval: 1000, syncTimeout: text }), { field: 'syncTimeout', expected: why, got: `string ${JSON.stringify(text)}` });
  });

  it('parseDuration keeps its contract: numbers as they are, NaN for anything that is not a duration', () => {
    expect(parseDuration(5)).toBe(5);
    expect(parseDuration(-5)).toBe(-5);
    for (const v of ['P1M', 'PT1M-59S', 'soon', '', {}, null, undefined, 10n]) expect(parseDuration(v)).toBeNaN();
  });
});

describe('duration range', () => {
  it('refuses intervals and timeouts above MAX_DURATION_MS (every slot of the Date range stays a safe integer)', () => {
    expect(MAX_DURATION_MS).toBe(36_500 * 86_400_000);
    expect(8.64e15 + MAX_DURATION_MS).toBeLessThan(Number.MAX_SAFE_INTEGER);
    expect(norm({ id: 'f', syncInterval: MAX_DURATION_MS }).syncInterval).toBe(MAX_DURATION_MS);
    for (const v of [MAX_DURATION_MS + 1, 2 ** 52, Number.MAX_SAFE_INTEGER]) {
      expectRefused(() => norm({ id: 'f', syncInterval: v }), { field: 'syncInterval', expected: `${BASE} (at most ${MAX_DURATION_MS} ms`, got: String(v) });
      expectRefused(() => norm({ id: 'f', syncInterval: 1000, syncTimeout: v }), { field: 'syncTimeout', expected: `(at most ${MAX_DURATION_MS} ms`, got: String(v) });
    }
  });

  it('keeps the existing messages for numbers out of range below', () => {
    expectRefused(() => norm({ id: 'f', syncInterval: 0 }), { field: 'syncInterval', expected: BASE, got: '0 (fabric "f")' });
    expectRefused(() => norm({ id: 'f', syncInterval: 1.5 }), { field: 'syncInterval', expected: BASE, got: '1.5' });
    expectRefused(() => norm({ id: 'f', syncInterval: 1000, syncTimeout: -1 }), { field: 'syncTimeout', expected: 'a non-negative integer number of ms (0 = none)', got: '-1' });
  });

  it('duration options follow the same rules', () => {
    expect(durationOption('lockTtl', 'PT30S', 1)).toBe(30_000);
    expectOptionRefused(() => durationOption('lockTtl', 'P1M', 1), { field: 'lockTtl', expected: "use days, e.g. 'P30D'", got: 'string "P1M"' });
    expectOptionRefused(() => durationOption('lockTtl', MAX_DURATION_MS + 1, 1), { field: 'lockTtl', expected: 'at most', got: String(MAX_DURATION_MS + 1) });
    expectOptionRefused(() => durationOption('drainTimeout', -1, 1, { allowZero: true }), { field: 'drainTimeout', expected: 'a non-negative integer number of ms', got: '-1' });
    expect(durationOption('x', Number.POSITIVE_INFINITY, 1, { allowInfinity: true })).toBe(Number.POSITIVE_INFINITY);
  });
});
