import { describe, expect, it } from 'vitest';
import { TimingWheel } from '../src/index.js';
import { createFakeClock } from '../src/testing.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');

function setup(options: { tickMs?: number; wheelSize?: number } = {}) {
  const clock = createFakeClock({ now: T0 });
  const fired: Array<{ item: number; at: number }> = [];
  const jumps: number[] = [];
  const wheel = new TimingWheel<number>({
    clock,
    ...options,
    onExpire: (items, now) => {
      for (const item of items) fired.push({ item, at: now });
    },
    onClockJump: (skew) => jumps.push(skew),
  });
  return { clock, wheel, fired, jumps };
}

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('TimingWheel', () => {
  it('fires every entry exactly at its due time, across all levels (1 ms … 10 days)', async () => {
    const { clock, wheel, fired } = setup();
    const random = rng(42);
    const due = new Map<number, number>();
    for (let i = 0; i < 2000; i++) {
      const delay = Math.floor(random() ** 4 * 10 * 24 * 3600_000) + 1;
      due.set(i, T0 + delay);
      wheel.schedule(i, T0 + delay);
    }
    expect(wheel.size).toBe(2000);
    await clock.tickAsync(10 * 24 * 3600_000 + 1);
    expect(fired).toHaveLength(2000);
    for (const f of fired) expect(f.at).toBe(due.get(f.item));
    expect(wheel.size).toBe(0);
    expect(clock.countTimers()).toBe(0);
  });

  it('never fires early, and fires entries in due-time order', async () => {
    const { clock, wheel, fired } = setup({ wheelSize: 8 });
    const random = rng(7);
    for (let i = 0; i < 500; i++) wheel.schedule(i, T0 + Math.floor(random() * 100_000));
    await clock.tickAsync(100_000);
    const ats = fired.map((f) => f.at);
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
  });

  it('cancel is exact and an emptied wheel disarms its timer', async () => {
    const { clock, wheel, fired } = setup();
    const a = wheel.schedule(1, T0 + 5000);
    const b = wheel.schedule(2, T0 + 5000);
    const c = wheel.schedule(3, T0 + 3600_000);
    expect(clock.countTimers()).toBe(1);
    expect(wheel.cancel(a)).toBe(true);
    expect(wheel.cancel(a)).toBe(false);
    await clock.tickAsync(5000);
    expect(fired.map((f) => f.item)).toEqual([2]);
    expect(wheel.cancel(b)).toBe(false); // already fired
    expect(wheel.cancel(c)).toBe(true);
    expect(clock.countTimers()).toBe(0);
    expect(wheel.size).toBe(0);
  });

  it('arms exactly one clock timer however many entries it holds', () => {
    const { clock, wheel } = setup();
    for (let i = 0; i < 10_000; i++) wheel.schedule(i, T0 + 1 + (i % 5000) * 37);
    expect(clock.countTimers()).toBe(1);
  });

  it('an entry due now or in the past fires in a microtask, not a clamped 1 ms timer', async () => {
    const { clock, wheel, fired } = setup();
    wheel.schedule(1, T0);
    wheel.schedule(2, T0 - 500);
    await clock.flush();
    expect(fired).toEqual([
      { item: 1, at: T0 },
      { item: 2, at: T0 },
    ]);
  });

  it('splits waits longer than 2^31-1 ms', async () => {
    const { clock, wheel, fired } = setup();
    const far = T0 + 60 * 24 * 3600_000; // 60 days
    wheel.schedule(1, far);
    await clock.tickAsync(far - T0 - 1);
    expect(fired).toHaveLength(0);
    await clock.tickAsync(1);
    expect(fired).toEqual([{ item: 1, at: far }]);
  });

  it('a wall-clock step seen at a wake shifts every entry by the step and reports it', async () => {
    const { clock, wheel, fired, jumps } = setup();
    wheel.schedule(1, T0 + 10_000);
    wheel.schedule(2, T0 + 20_000);
    clock.setSystemTime(T0 + 3600_000);
    await clock.tickAsync(10_000);
    expect(jumps).toEqual([3600_000]);
    expect(fired).toEqual([{ item: 1, at: T0 + 3600_000 + 10_000 }]);
    await clock.tickAsync(10_000);
    expect(fired[1]).toEqual({ item: 2, at: T0 + 3600_000 + 20_000 });
  });

  it('a late wake (stall) is not a clock step: entries fire once, late', async () => {
    const { clock, wheel, fired, jumps } = setup();
    for (let i = 1; i <= 5; i++) wheel.schedule(i, T0 + i * 1000);
    clock.jump(5500);
    await clock.flush();
    expect(jumps).toEqual([]);
    expect(fired.map((f) => f.item)).toEqual([1, 2, 3, 4, 5]);
    expect(fired.every((f) => f.at === T0 + 5500)).toBe(true);
  });

  it('pause disarms and resume serves what came due meanwhile', async () => {
    const { clock, wheel, fired } = setup();
    wheel.schedule(1, T0 + 1000);
    wheel.pause();
    expect(clock.countTimers()).toBe(0);
    await clock.tickAsync(5000);
    expect(fired).toHaveLength(0);
    wheel.resume();
    await clock.tickAsync(0);
    expect(fired).toEqual([{ item: 1, at: T0 + 5000 }]);
  });
});
