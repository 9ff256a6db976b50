import { describe, expect, it } from 'vitest';
import { InProcessSingleFlight, MemoryStorage } from '../../src/index.js';
import { makeHarness, sleepOn } from '../helpers/harness.js';

describe('fabric:stale across schedulers sharing a storage', () => {
  it('is not reported by a scheduler whose cached record is older than the stored one (another scheduler keeps the fabric fresh)', async () => {
    const storage = new MemoryStorage();
    const singleFlight = new InProcessSingleFlight();
    const a = makeHarness({ storage, singleFlight, housekeepingInterval: 1_000, behaviour: (_f, _c, clock) => sleepOn(clock, 50) });
    const b = makeHarness({ storage, singleFlight, clock: a.clock, housekeepingInterval: 1_000, behaviour: (_f, _c, clock) => sleepOn(clock, 50) });
    const stale: Array<{ on: string; fabricId: string }> = [];
    a.scheduler.on('fabric:stale', (e) => stale.push({ on: 'a', fabricId: e.fabricId }));
    b.scheduler.on('fabric:stale', (e) => stale.push({ on: 'b', fabricId: e.fabricId }));
    const ids = ['f0', 'f1', 'f2', 'f3'];
    await a.scheduler.upsertFabrics(ids.map((id) => ({ id, syncInterval: 1_000, maxStaleness: 1_200 })));
    await a.scheduler.start();
    await b.scheduler.start();
    await a.clock.tickAsync(30_000);
    // Every slot ran on one of them, so every fabric stayed fresh in the storage.
    expect(a.runs.length + b.runs.length).toBeGreaterThanOrEqual(4 * 29);
    expect(stale).toEqual([]);
    expect(a.scheduler.metrics().stale + b.scheduler.metrics().stale).toBe(0);
    // A fabric that really goes stale (its executor starts failing everywhere) is still reported.
    await a.scheduler.pause({ fabric: 'f0' });
    await a.clock.tickAsync(10_000);
    expect(stale.filter((e) => e.fabricId === 'f0').length).toBeGreaterThanOrEqual(1);
    expect(stale.filter((e) => e.fabricId !== 'f0')).toEqual([]);
    await a.stop();
    await b.stop();
  });
});
