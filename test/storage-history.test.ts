/** The compact run history encoding (src/storage/history.ts) shared by MemoryStorage and RedisStorage. */
import { describe, expect, it } from 'vitest';
import { HISTORY_ERROR_MAX, decodeHistoryEntry, encodeHistoryEntry, type RunHistoryEntry } from '../src/index.js';
import { historyError } from '../src/storage/history.js';
import { HistoryRings } from '../src/storage/history-ring.js';

const T0 = 1_764_460_000_000;
const ok = (k: number): RunHistoryEntry => ({ scheduledAt: T0 + k * 1_000, startedAt: T0 + k * 1_000 + 2, finishedAt: T0 + k * 1_000 + 40, trigger: 'schedule', outcome: 'succeeded', durationMs: 38, fencingToken: k + 1 });

describe('run history encoding', () => {
  it('round-trips every field, including negative offsets, any text in replica and error, unknown triggers', () => {
    const entries: RunHistoryEntry[] = [
      ok(1),
      { scheduledAt: T0, startedAt: T0 - 5, finishedAt: T0 - 5, trigger: 'manual', outcome: 'failed', reason: 'lock-lost', error: '', durationMs: 0, fencingToken: 1_764_460_000_000_123, replica: 'a,b:12' },
      { scheduledAt: T0, startedAt: T0 + 1, finishedAt: T0 + 2, trigger: 'retry', outcome: 'failed', reason: 'timeout', error: '3:x,\n🙂 "quoted" 10:', durationMs: 1, fencingToken: 7 },
      { ...ok(2), trigger: 'probe' as RunHistoryEntry['trigger'] },
    ];
    for (const e of entries) expect(decodeHistoryEntry(encodeHistoryEntry(e))).toEqual(e);
    expect(encodeHistoryEntry(ok(1)).length).toBeLessThan(40);
  });

  it('reads a malformed entry as undefined, never throws', () => {
    for (const bad of ['', 'x', '1,2,3', 'zz,0,0,0,0,9,0,0,', '1,0,0,0,0,0,7,0,', '1,0,0,0,0,0,0,z,ab', '1.5,0,0,0,0,0,0,0,']) expect(decodeHistoryEntry(bad)).toBeUndefined();
  });

  it("MemoryStorage's ring: newest first, capped at keep (a smaller keep trims, a larger one grows), texts kept exactly", () => {
    const rings = new HistoryRings();
    const ring = { push: (h: Parameters<HistoryRings['push']>[1]) => rings.push(0, h), read: (limit: number) => rings.read(0, limit), get size() { return rings.size(0); } };
    const all: RunHistoryEntry[] = [];
    // successes first (no text array yet), then failures with errors and a replica, a trigger kept by name
    for (let k = 0; k < 30; k++) {
      let e: RunHistoryEntry = k < 5 || k % 3 ? ok(k) : { ...ok(k), outcome: 'failed', reason: 'timeout', error: `12:${k}:oops,` };
      if (k === 7) e = { ...e, replica: 'r-1', trigger: 'probe' as RunHistoryEntry['trigger'] };
      if (k === 8) e = { ...e, durationMs: 1_234_567_890 };
      all.unshift(e);
      ring.push({ entry: e, keep: 20 });
      expect(ring.read(100)).toEqual(all.slice(0, 20));
    }
    expect(ring.size).toBe(20);
    expect(ring.read(3)).toEqual(all.slice(0, 3));
    ring.push({ entry: ok(99), keep: 2 });
    expect(ring.read(100)).toEqual([ok(99), all[0]]);
    for (let k = 100; k < 140; k++) ring.push({ entry: ok(k), keep: 50 });
    expect(ring.read(1000)).toHaveLength(42);
    expect(ring.read(1)).toEqual([ok(139)]);
    expect(ring.read(1000).at(-1)).toEqual(all[0]);
  });

  it("MemoryStorage's rings are per fabric (by its storage slot): interleaved appends stay apart, a delete forgets one, a far slot works", () => {
    const rings = new HistoryRings();
    const a: RunHistoryEntry[] = [];
    const b: RunHistoryEntry[] = [];
    for (let k = 0; k < 9; k++) {
      const ea: RunHistoryEntry = k === 4 ? { ...ok(k), outcome: 'failed', reason: 'error', error: `a${k}`, replica: 'ra' } : ok(k);
      a.unshift(ea);
      rings.push(3, { entry: ea, keep: 6 });
      b.unshift(ok(100 + k));
      rings.push(1, { entry: ok(100 + k), keep: 3 });
    }
    expect(rings.read(3, 10)).toEqual(a.slice(0, 6));
    expect(rings.read(1, 10)).toEqual(b.slice(0, 3));
    rings.delete(3);
    expect(rings.read(3, 10)).toEqual([]);
    expect(rings.size(3)).toBe(0);
    expect(rings.read(1, 10)).toEqual(b.slice(0, 3));
    rings.push(3, { entry: ok(1), keep: 6 });
    expect(rings.read(3, 10)).toEqual([ok(1)]);
    // a slot far past the others, and slots never written
    rings.push(1_000_000, { entry: ok(7), keep: 2 });
    expect(rings.read(1_000_000, 10)).toEqual([ok(7)]);
    expect(rings.read(999_999, 10)).toEqual([]);
    expect(rings.size(5_000_000)).toBe(0);
    rings.delete(5_000_000);
    expect(rings.read(1, 10)).toEqual(b.slice(0, 3));
  });

  it("MemoryStorage's ring keeps a hostile duration in range (never a negative or non-finite one)", () => {
    const rings = new HistoryRings();
    for (const durationMs of [-5, Number.NaN, 2 ** 60, 0.4]) rings.push(2, { entry: { ...ok(1), durationMs }, keep: 5 });
    expect(rings.read(2, 5).map((e) => e.durationMs)).toEqual([0, 2 ** 46, 0, 0]);
  });

  it('cuts long error messages', () => {
    expect(historyError('x'.repeat(HISTORY_ERROR_MAX + 10))).toHaveLength(HISTORY_ERROR_MAX);
    expect(historyError('short')).toBe('short');
  });
});
