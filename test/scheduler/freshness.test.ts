/**
 * Freshness (fake clock): maxStaleness drives out_of_sync, `fabric:stale` comes once per crossing
 * within the documented bound, and the staleness gauges in metrics() follow the events: a crossing
 * counts from its `fabric:stale`, a success is fresh at once, and `maxStalenessMs` is exact here
 * (fewer than OLDEST_KEPT fabrics; the drift test covers more, test/scheduler/gauges.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { T0, makeHarness } from '../helpers/harness.js';

const SEC = 1000;

describe('freshness', () => {
  it('a paused fabric goes stale at maxStaleness; fabric:stale comes once, within one sweep period (5 s) while the wheel wakes', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    const stale: Array<{ fabricId: string; lastSyncAt: number; staleSince: number; at: number }> = [];
    const gaugesAtEvent: Array<ReturnType<typeof h.scheduler.metrics>> = [];
    h.scheduler.on('fabric:stale', (e) => {
      stale.push(e);
      gaugesAtEvent.push(h.scheduler.metrics());
    });
    await h.scheduler.upsertFabric({ id: 'p', syncInterval: 10 * SEC, maxStaleness: 'PT30S' });
    await h.scheduler.upsertFabric({ id: 'busy', syncInterval: SEC });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    await h.scheduler.pause({ fabric: 'p' });
    await h.clock.tickAsync(30 * SEC);
    expect((await h.scheduler.getFabricStatus('p'))!.status).toBe('in_sync'); // exactly 30 s: not yet
    expect(h.scheduler.metrics()).toMatchObject({ stale: 0, maxStalenessMs: 30 * SEC });
    await h.clock.tickAsync(1);
    expect((await h.scheduler.getFabricStatus('p'))!.status).toBe('out_of_sync');
    // The gauges count the crossing when the scheduler sees it (its fabric:stale), not before.
    expect(h.scheduler.metrics()).toMatchObject({ stale: 0, maxStalenessMs: 30 * SEC + 1 });
    expect(h.scheduler.metrics().fabrics.out_of_sync).toBeUndefined();
    await h.clock.tickAsync(60 * SEC);
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatchObject({ fabricId: 'p', lastSyncAt: T0, staleSince: T0 + 30 * SEC + 1 });
    expect(stale[0]!.at - stale[0]!.staleSince).toBeLessThanOrEqual(5 * SEC);
    expect(stale[0]!.at).toBe(T0 + 35 * SEC); // the sweep pass after the crossing (one every 5 s)
    expect(gaugesAtEvent[0]).toMatchObject({ stale: 1, fabrics: { out_of_sync: 1 }, maxStalenessMs: 35 * SEC });
    expect(h.scheduler.metrics()).toMatchObject({ stale: 1, fabrics: { out_of_sync: 1 }, maxStalenessMs: 90 * SEC + 1 });
    // a success makes it fresh; a new crossing emits again
    await h.scheduler.resume({ fabric: 'p' });
    await h.clock.tickAsync(0);
    expect(h.scheduler.metrics()).toMatchObject({ stale: 0, fabrics: { in_sync: 2 }, maxStalenessMs: 1 }); // busy's success at 90 s; p's now
    await h.scheduler.pause({ fabric: 'p' });
    await h.clock.tickAsync(40 * SEC);
    expect(stale).toHaveLength(2);
    expect(stale[1]!.at - stale[1]!.staleSince).toBeLessThanOrEqual(5 * SEC);
    await h.scheduler.stop({ inFlight: 'abort' });
  });

  it('a failing fabric is seen stale at its next slot at the latest (default bound: 2 x interval), once', async () => {
    let ok = true;
    const h = makeHarness({
      behaviour: () => {
        if (!ok) throw new Error('down');
      },
    });
    const stale: Array<{ staleSince: number; at: number }> = [];
    h.scheduler.on('fabric:stale', (e) => stale.push(e));
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 10 * SEC });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    ok = false;
    await h.clock.tickAsync(100 * SEC);
    expect(stale).toHaveLength(1);
    expect(stale[0]!.staleSince).toBe(T0 + 20 * SEC + 1);
    expect(stale[0]!.at).toBe(T0 + 30 * SEC); // its slot after the crossing
    expect((await h.scheduler.getFabricStatus('f'))!.status).toBe('error');
    expect(h.scheduler.metrics()).toMatchObject({ stale: 1, maxStalenessMs: 100 * SEC });
    await h.scheduler.stop({ inFlight: 'abort' });
  });
});

describe('the freshness sweep', () => {
  it('begins at most once per sweep period and advances SWEEP_CHUNK fabrics per wake', async () => {
    const { SWEEP_CHUNK, sweepFreshnessEvery } = await import('../../src/scheduler/freshness.js');
    const { normalizeFabric } = await import('../../src/index.js');
    const fabric = normalizeFabric({ id: 'x', syncInterval: 1000 }, { syncTimeout: 0 });
    const n = 2 * SWEEP_CHUNK + 5;
    const runtimes = new Map(Array.from({ length: n }, (_, i) => [`f${i}`, { fabric: { ...fabric, id: `f${i}` }, removed: false, stale: false, pendingShift: null, lastSyncAt: 0, cache() {}, setStale(v: boolean) { this.stale = v; } }]));
    const emitted: string[] = [];
    const passes: string[] = [];
    const gauges = { passBegan: () => passes.push('began'), passSaw: () => undefined, passEnded: () => passes.push('ended') };
    // A crossing is confirmed with a storage read (here: the same stale record) before it is reported.
    let now = 0;
    const io = { get: async (id: string) => ({ definition: runtimes.get(id)!.fabric, state: { lastSyncAt: 0 } }) };
    const time = { now: () => now, generation: 0, movedSince: () => 0 };
    const core = { opts: { housekeepingInterval: 0, singleFlight: {} }, fabrics: runtimes, gauges, io, time, lifecycle: () => 'running', emit: (name: string) => emitted.push(name) } as never;
    const sweep = async (at: number) => {
      now = at;
      sweepFreshnessEvery(core, at);
      await new Promise((r) => setImmediate(r));
    };
    await sweep(100_000); // first call: remembers the time only
    await sweep(104_999);
    expect(emitted).toHaveLength(0); // a pass begins 5 s after the last one
    await sweep(105_000);
    expect(emitted).toHaveLength(SWEEP_CHUNK);
    await sweep(105_001);
    await sweep(105_002);
    expect(emitted).toHaveLength(n); // three wakes for two chunks and a bit
    expect(passes).toEqual(['began', 'ended']); // the wake that reaches the end ends the pass
    await sweep(105_003);
    expect(passes).toEqual(['began', 'ended']);
    expect(emitted).toHaveLength(n); // once per crossing, and the next pass waits for its period
    expect(emitted.every((e) => e === 'fabric:stale')).toBe(true);
  });
});
