/**
 * Issue 9, rows 5-7: one runtime per fabric whatever the interleaving of host calls; a fabric
 * upserted during start() syncs at once; removal is final; every storage call is bounded, so
 * stop() settles within drainTimeout + operationTimeout and a hung call blocks nothing after it.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage, StorageError } from '../../src/index.js';
import { SECOND, never, observe, passThroughStorage, setup, settleOrAbandon, tickUntil } from './helpers.js';

const BOUNDS = { extra: { operationTimeout: 5_000 }, shutdown: { drainTimeout: 1_000 } };
/** drainTimeout + operationTimeout, plus the 100 ms step of the ticking loop. */
const STOP_BOUND = 1_000 + 5_000 + 100;

/** A scheduler whose storage answers list() only after a real macrotask. */
async function upsertWhileStarting() {
  const slow = passThroughStorage(new MemoryStorage(), {
    list: async (inner) => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return inner.list();
    },
  });
  const h = setup({ storage: slow.storage, housekeepingInterval: 0 });
  const started = h.scheduler.start();
  await h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND });
  await started;
  return h;
}

describe('a fabric upserted while start() loads syncs at once', () => {
  it('a fabric upserted while start() is loading syncs at once', async () => {
    const h = await upsertWhileStarting();
    await h.clock.tickAsync(100);
    expect(h.callsOf('f')).toHaveLength(1);
    expect((await h.scheduler.getFabricStatus('f'))?.status).toBe('in_sync');
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });

  it('re-upserting a fabric first upserted during start() syncs it', async () => {
    const h = await upsertWhileStarting();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND, metadata: { again: true } });
    await h.clock.tickAsync(100);
    expect(h.callsOf('f').length).toBeGreaterThanOrEqual(1);
    expect((await h.scheduler.getFabricStatus('f'))?.status).toBe('in_sync');
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

describe('removal is final: one runtime per fabric', () => {
  it('after two concurrent syncNow of a fabric stored elsewhere, removeFabric stops it for good', async () => {
    const storage = new MemoryStorage();
    const b = setup({ storage });
    const a = setup({ storage, clock: b.clock });
    await b.scheduler.start();
    await a.scheduler.upsertFabric({ id: 'f', syncInterval: SECOND });
    const both = Promise.all([b.scheduler.syncNow('f'), b.scheduler.syncNow('f')]);
    await b.clock.tickAsync(50);
    await both;
    expect(await b.scheduler.removeFabric('f')).toBe(true);
    const removedAt = b.clock.monotonic();
    await b.clock.tickAsync(10 * SECOND);

    const startedAfter = b.events.of('sync:started', 'f').filter((e) => e.mono > removedAt);
    expect(startedAfter.map((e) => `${e.trigger} ${e.scheduledAt}`)).toEqual([]);
    expect(await b.scheduler.getFabricStatus('f')).toBeUndefined();
    expect(await storage.get('f')).toBeUndefined();
    await settleOrAbandon(b.clock, b.scheduler.stop());
  });
});

describe('stop() is bounded whatever the storage does', () => {
  it('stop() while list() never answers settles within drainTimeout + operationTimeout', async () => {
    const hung = passThroughStorage(new MemoryStorage(), { list: () => never() });
    const h = setup({ ...BOUNDS, storage: hung.storage, housekeepingInterval: 0 });
    const starting = observe(h.scheduler.start());
    const stopped = observe(h.scheduler.stop());
    const took = await tickUntil(h.clock, () => stopped.settled, 2 * STOP_BOUND);
    expect(took).toBeLessThanOrEqual(STOP_BOUND);
    expect(starting.settled).toBe(true);
  });

  it('stop() while a claim write() never answers settles within drainTimeout + operationTimeout', async () => {
    let hang = false;
    const slow = passThroughStorage(new MemoryStorage(), {
      write: (inner, id, value, expected) => (hang ? never() : inner.write(id, value, expected)),
    });
    const h = setup({ ...BOUNDS, storage: slow.storage, housekeepingInterval: 0 });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: SECOND });
    await h.scheduler.start();
    await h.clock.tickAsync(100); // the first run is done
    hang = true;
    await h.clock.tickAsync(SECOND); // the next slot's claim is hanging
    const stopped = observe(h.scheduler.stop());
    const took = await tickUntil(h.clock, () => stopped.settled, 2 * STOP_BOUND);
    expect(took).toBeLessThanOrEqual(STOP_BOUND);
  });

  it('a claim write() that never answers is reported as a StorageError within operationTimeout', async () => {
    let hang = false;
    const slow = passThroughStorage(new MemoryStorage(), {
      write: (inner, id, value, expected) => (hang ? never() : inner.write(id, value, expected)),
    });
    const h = setup({ ...BOUNDS, storage: slow.storage, housekeepingInterval: 0 });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND });
    await h.scheduler.start();
    await h.clock.tickAsync(100);
    hang = true;
    await h.clock.tickAsync(60 * SECOND + 5_000 + 100);
    const errors = h.events.of('error').map((e) => ({ storageError: e.error instanceof StorageError, operation: typeof e.operation }));
    expect(errors).toContainEqual({ storageError: true, operation: 'string' });
    hang = false;
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

describe('a timed-out storage call blocks nothing after it', () => {
  /** A scheduler whose storage writes hang while `gate.hang` is set. */
  function hangingWrites() {
    const gate = { hang: false };
    const slow = passThroughStorage(new MemoryStorage(), {
      write: (inner, id, value, expected) => (gate.hang ? never() : inner.write(id, value, expected)),
    });
    return { gate, ...setup({ ...BOUNDS, storage: slow.storage, housekeepingInterval: 0 }) };
  }

  it('upsertFabric whose write never answers rejects with StorageError after operationTimeout', async () => {
    const h = hangingWrites();
    await h.scheduler.start();
    h.gate.hang = true;
    const upsert = observe(h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND }));
    const took = await tickUntil(h.clock, () => upsert.settled, 2 * STOP_BOUND);
    expect(took).toBeLessThanOrEqual(5_000 + 100);
    expect(upsert.error).toBeInstanceOf(StorageError);
    h.gate.hang = false;
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });

  it('after an upsert timed out, a later upsertFabric and removeFabric of the same id complete', async () => {
    const h = hangingWrites();
    await h.scheduler.start();
    h.gate.hang = true;
    const first = observe(h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND }));
    await tickUntil(h.clock, () => first.settled, 2 * STOP_BOUND);
    h.gate.hang = false; // storage answers again
    const again = observe(h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND }));
    await tickUntil(h.clock, () => again.settled, 2 * STOP_BOUND);
    expect({ settled: again.settled, error: again.error }).toEqual({ settled: true, error: undefined });
    const removed = observe(h.scheduler.removeFabric('f'));
    await tickUntil(h.clock, () => removed.settled, 2 * STOP_BOUND);
    expect({ settled: removed.settled, value: removed.value }).toEqual({ settled: true, value: true });
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});
