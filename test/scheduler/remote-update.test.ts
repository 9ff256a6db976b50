import { describe, expect, it } from 'vitest';
import { InProcessSingleFlight, MemoryStorage } from '../../src/index.js';
import { makeHarness, sleepOn } from '../helpers/harness.js';

const MIN = 60_000;

describe('a definition changed by another scheduler while this one runs the fabric', () => {
  it("is followed after the run and reported once as fabric:updated with remote: true", async () => {
    const storage = new MemoryStorage();
    const singleFlight = new InProcessSingleFlight();
    const b = makeHarness({ storage, singleFlight, housekeepingInterval: 1_000, behaviour: (_f, _c, clock) => sleepOn(clock, 5_000) });
    const a = makeHarness({ storage, singleFlight, clock: b.clock, housekeepingInterval: 1_000 });
    const updated = { a: [] as unknown[], b: [] as unknown[] };
    a.scheduler.on('fabric:updated', (e) => updated.a.push(e));
    b.scheduler.on('fabric:updated', (e) => updated.b.push(e));
    await b.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await b.scheduler.start();
    await b.clock.tickAsync(1_000); // B runs f from 0 to 5 s
    await a.scheduler.start();
    await a.scheduler.upsertFabric({ id: 'f', syncInterval: 2 * MIN }); // A changes it meanwhile
    await b.clock.tickAsync(10_000);
    expect(updated.b).toEqual([{ fabricId: 'f', remote: true }]);
    expect(updated.a).toEqual([{ fabricId: 'f' }]);
    expect((await b.scheduler.getFabricStatus('f'))?.syncInterval).toBe(2 * MIN);
    await a.stop();
    await b.stop();
  });
});
