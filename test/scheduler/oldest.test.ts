/**
 * OldestSet (the oldest last success without looking at every fabric): against a brute-force
 * minimum over random changes and passes, it never answers a value newer than the true oldest,
 * answers it exactly whenever it says so, and always with at most OLDEST_KEPT items.
 */
import { describe, expect, it } from 'vitest';
import { OLDEST_KEPT, OldestSet } from '../../src/scheduler/oldest.js';
import { mulberry32 } from '../../src/testing.js';

function trueOldest(values: Map<number, number>): number | null {
  let min: number | null = null;
  for (const v of values.values()) if (min === null || v < min) min = v;
  return min;
}

describe('OldestSet', () => {
  it('is exact while at most OLDEST_KEPT items count, whatever they do', () => {
    const set = new OldestSet<number>();
    const values = new Map<number, number>();
    const rand = mulberry32(7);
    for (let step = 0; step < 5_000; step++) {
      const item = Math.floor(rand() * OLDEST_KEPT);
      const value = rand() < 0.15 ? null : Math.floor(rand() * 1_000_000);
      if (value === null) values.delete(item);
      else values.set(item, value);
      set.note(item, value);
      expect(set.oldest()).toBe(trueOldest(values));
      expect(set.exact()).toBe(true);
    }
  });

  it('never answers newer than the true oldest, is exact when it says so, and a pass makes it exact again', () => {
    const rand = mulberry32(11);
    let set = new OldestSet<number>();
    const values = new Map<number, number>();
    let now = 0;
    let exactChecks = 0;
    for (let step = 0; step < 20_000; step++) {
      now += 1;
      const item = Math.floor(rand() * 200);
      const r = rand();
      // Mostly successes (the value jumps to now), some older values arriving, some removals.
      const value = r < 0.1 ? null : r < 0.2 ? now - Math.floor(rand() * 5_000) : now;
      if (value === null) values.delete(item);
      else values.set(item, value);
      set.note(item, value);
      const truth = trueOldest(values);
      const answer = set.oldest();
      // (With nothing counting the gauges answer null by their own count, whatever the floor says.)
      if (truth !== null) expect(answer!).toBeLessThanOrEqual(truth);
      if (set.exact()) {
        exactChecks++;
        expect(answer).toBe(truth);
      }
      if (step % 1_000 === 999) {
        // A pass: a new set sees every item; exact right after.
        set = new OldestSet<number>();
        for (const [k, v] of values) set.note(k, v);
        expect(set.oldest()).toBe(trueOldest(values));
        expect(set.exact()).toBe(true);
      }
    }
    expect(exactChecks).toBeGreaterThan(1_000);
  });

  it('keeps an item that stays old exact while newer ones come and go', () => {
    const set = new OldestSet<string>();
    set.note('stuck', 100);
    for (let i = 0; i < 50; i++) set.note(`f${i}`, 1_000 + i);
    for (let i = 0; i < 50; i++) set.note(`f${i}`, 5_000 + i); // every other one synced
    expect(set.oldest()).toBe(100);
    expect(set.exact()).toBe(true);
    set.note('stuck', 6_000); // it synced too: the floor stands for the ones not kept
    expect(set.exact()).toBe(false);
    expect(set.oldest()).toBeLessThanOrEqual(5_000);
    set.note('stuck', null);
    set.clear();
    expect(set.oldest()).toBeNull();
  });
});
