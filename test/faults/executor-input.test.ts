/**
 * Fault suite, part 1 (fake clock, memory storage): executors that misbehave, hostile thrown
 * values and listeners, hostile definitions, 100,000 fabrics at once, memory-sized results, and
 * shutdown edge cases. Cases already covered in test/scheduler-*.test.ts are not repeated here
 * (plain non-Error throws, synchronous throws, rejections after a timeout, a throwing
 * `sync:started` listener, stop() before start/twice/during a storm, 1 MB ids).
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidFabricError, MemoryStorage, SyncTimeoutError, createScheduler } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { T0, makeHarness, sleepOn } from '../helpers/harness.js';
import { trapUnhandled } from '../helpers/faults.js';

let trap: ReturnType<typeof trapUnhandled>;
beforeEach(() => {
  trap = trapUnhandled();
});
afterEach(() => {
  trap.dispose();
  // Promise: no fault below ever surfaces as an unhandled rejection or uncaught exception.
  expect(trap.seen).toEqual([]);
});

describe('executor misbehaviour', () => {
  it('hostile thrown values (null, undefined, Symbol, BigInt, null-prototype object, throwing toString/toJSON, a Proxy that throws on every trap) each fail one run; the schedule goes on', async () => {
    const trapAll = new Proxy(
      {},
      Object.fromEntries(
        ['get', 'has', 'getPrototypeOf', 'ownKeys', 'getOwnPropertyDescriptor', 'apply', 'construct', 'set', 'defineProperty'].map((t) => [
          t,
          () => {
            throw new Error(`proxy trap ${t}`);
          },
        ]),
      ),
    );
    const hostile: unknown[] = [
      null,
      undefined,
      Symbol('sym'),
      10n,
      Object.create(null),
      { toString: () => { throw new Error('toString bomb'); }, toJSON: () => { throw new Error('toJSON bomb'); } },
      trapAll,
    ];
    let i = 0;
    const h = makeHarness({
      behaviour: () => {
        const v = hostile[i++ % hostile.length];
        // half of them thrown synchronously, half as rejections
        if (i % 2 === 0) throw v;
        return Promise.reject(v);
      },
    });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(hostile.length * 2 * 1000 - 1);
    const failed = h.eventsOf('sync:failed', 'f');
    expect(failed).toHaveLength(hostile.length * 2);
    for (const e of failed) {
      expect(e.error).toBeInstanceOf(Error);
      expect(typeof e.error.message).toBe('string');
    }
    expect(h.runsOf('f')).toHaveLength(hostile.length * 2); // one run per slot, none lost, none stuck
    const status = await h.scheduler.getFabricStatus('f');
    expect(status).toMatchObject({ status: 'error', consecutiveFailures: hostile.length * 2 });
    expect(typeof status!.lastError).toBe('string');
    await h.stop();
  });

  it('an executor that hangs forever and ignores its signal is cut off by syncTimeout every slot; zombies never block other fabrics or pile up runs', async () => {
    const zombies: AbortSignal[] = [];
    const h = makeHarness({
      behaviour: (fabric, ctx, clock) => {
        if (fabric.id === 'hang') {
          zombies.push(ctx.signal);
          return new Promise(() => {}); // never settles, never looks at ctx.signal
        }
        return sleepOn(clock, 5);
      },
    });
    await h.scheduler.upsertFabric({ id: 'hang', syncInterval: 1000, syncTimeout: 400 });
    await h.scheduler.upsertFabric({ id: 'ok', syncInterval: 250 });
    await h.scheduler.start();
    await h.clock.tickAsync(50_000 - 1);
    // one run per slot for both; the hung one fails by timeout each time
    expect(h.runsOf('hang')).toHaveLength(50);
    expect(h.runsOf('ok')).toHaveLength(200);
    const failed = h.eventsOf('sync:failed', 'hang');
    expect(failed).toHaveLength(50);
    expect(failed.every((e) => e.reason === 'timeout' && e.error instanceof SyncTimeoutError)).toBe(true);
    expect(zombies.every((s) => s.aborted)).toBe(true);
    expect(h.eventsOf('sync:missed')).toEqual([]);
    expect(h.scheduler.inFlightCount).toBe(0); // the scheduler does not count zombies as running (clock between runs)
    await h.stop();
  });

  it('memory-sized results (a 16 MB Buffer per run) are not kept: heap growth stays bounded over 40 runs', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const h = makeHarness({ behaviour: () => Buffer.alloc(16 * 1024 * 1024, 1) });
    await h.scheduler.upsertFabric({ id: 'big', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    gc();
    const before = process.memoryUsage();
    await h.clock.tickAsync(40_000);
    gc();
    const after = process.memoryUsage();
    const grew = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    expect(h.runsOf('big').length).toBeGreaterThanOrEqual(40); // 640 MB returned in total
    expect(grew).toBeLessThan(64 * 1024 * 1024);
    console.log(`memory-sized results: ${h.runsOf('big').length} runs x 16 MB returned; heap + array buffers grew ${(grew / 1024 / 1024).toFixed(1)} MB`);
    await h.stop();
  });
});

describe('listeners that throw', () => {
  it("a throwing 'error' listener, 'status:changed' listener and 'sync:failed' listener (throwing non-Errors too) break nothing", async () => {
    const h = makeHarness({ behaviour: () => Promise.reject(new Error('run fails')) });
    let errorCalls = 0;
    h.scheduler.on('error', () => {
      errorCalls++;
      throw new Error('error listener bug');
    });
    h.scheduler.on('status:changed', () => {
      throw 'a string from a listener';
    });
    h.scheduler.on('sync:failed', () => {
      throw Object.create(null);
    });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(9_999);
    expect(h.runsOf('f')).toHaveLength(10);
    expect(h.eventsOf('sync:failed')).toHaveLength(10);
    expect(errorCalls).toBeGreaterThanOrEqual(10); // the other listeners' throws are reported as 'error' events
    const reported = h.eventsOf('error');
    expect(reported.every((e) => e.operation === 'listener' && e.error instanceof Error)).toBe(true);
    await h.stop();
  });
});

describe('bad and hostile input', () => {
  it('hostile definitions (throwing getters, Proxies, inherited ids, exotic intervals, cyclic metadata, prototype-named ids): refused or accepted harmlessly, never a crash or a half-stored fabric', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'keep', syncInterval: 1000 });
    await h.scheduler.start();
    const getterBomb = Object.defineProperty({ syncInterval: 1000 }, 'id', {
      enumerable: true,
      get() {
        throw new Error('getter bomb');
      },
    });
    const proxyBomb = new Proxy({ id: 'p', syncInterval: 1000 }, {
      ownKeys() {
        throw new Error('ownKeys bomb');
      },
    });
    // A definition whose own getters/traps throw: upsert rejects (with the host's own error), nothing is stored.
    for (const bomb of [getterBomb, proxyBomb]) await expect(h.scheduler.upsertFabric(bomb as never)).rejects.toThrow(/bomb/);
    const refused: unknown[] = [
      { id: 'm', syncInterval: 1000, metadata: [1, 2] },
      { id: 'm', syncInterval: 1000, metadata: null },
      { id: 'i', syncInterval: 2 ** 53 },
      { id: 'i', syncInterval: '-PT1M' },
      { id: 'i', syncInterval: 'P1000000000000Y' },
      { id: 'i', syncInterval: 1000, syncTimeout: 'soon' },
    ];
    for (const input of refused) {
      const error = await h.scheduler.upsertFabric(input as never).catch((e: unknown) => e);
      expect(error, `refused: ${String((input as { id?: unknown })?.id ?? 'bomb')}`).toBeInstanceOf(InvalidFabricError);
    }
    // metadata must be JSON: a cycle is refused on every storage, the memory one included
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    expect(await h.scheduler.upsertFabric({ id: 'cyclic', syncInterval: 1000, metadata: cyclic }).catch((e: unknown) => e)).toBeInstanceOf(InvalidFabricError);
    // accepted harmlessly: ids that are JavaScript-special
    for (const id of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) await h.scheduler.upsertFabric({ id, syncInterval: 1000 });
    await h.clock.tickAsync(2_999);
    const ids = (await h.scheduler.listFabrics()).map((f) => f.id).sort();
    expect(ids).toEqual(['__proto__', 'constructor', 'hasOwnProperty', 'keep', 'toString']);
    for (const id of ids) expect(h.runsOf(id).length, id).toBe(id === 'keep' ? 3 : 3);
    expect(({} as Record<string, unknown>)['syncInterval']).toBeUndefined(); // no prototype pollution
    // pausing and resuming such ids works on them alone (the shared pause map is keyed by ids)
    await h.scheduler.pause({ fabric: '__proto__' });
    const before = h.runsOf('__proto__').length;
    await h.clock.tickAsync(2_000);
    expect(h.runsOf('__proto__')).toHaveLength(before);
    expect(h.runsOf('constructor').length).toBe(5);
    await h.scheduler.resume({ fabric: '__proto__' });
    await h.clock.tickAsync(1_000);
    expect(h.runsOf('__proto__').length).toBeGreaterThan(before);
    await h.stop();
  });

  it('100,000 fabrics upserted at once: all stored, each synced exactly once at once and put on its grid, no error', { timeout: 60_000 }, async () => {
    const clock = createFakeClock({ now: T0 });
    const storage = new MemoryStorage();
    const counts = new Map<string, number>();
    const scheduler = createScheduler({
      clock,
      storage,
      retry: false,
      executor: (fabric) => {
        counts.set(fabric.id, (counts.get(fabric.id) ?? 0) + 1);
      },
    });
    const errors: unknown[] = [];
    scheduler.on('error', (e) => errors.push(e));
    await scheduler.start();
    const N = 100_000;
    const t0 = performance.now();
    const statuses = await Promise.all(Array.from({ length: N }, (_, i) => scheduler.upsertFabric({ id: `fabric-${i}`, syncInterval: 60_000 })));
    const upsertMs = performance.now() - t0;
    expect(statuses).toHaveLength(N);
    expect(storage.size).toBe(N);
    // A burst this large is served in chunks of 8,192, yielding to the event loop between them
    // through a 0 ms timer (1 ms, as Node clamps it): all of it within a few ms.
    await clock.tickAsync(0);
    let ms = 0;
    while (counts.size < N && ms < 50) {
      await clock.tickAsync(1);
      ms++;
    }
    await clock.flush();
    expect(ms).toBeLessThanOrEqual(Math.ceil(N / 8_192));
    expect(counts.size).toBe(N); // every never-synced fabric synced at once
    expect([...counts.values()].every((n) => n === 1)).toBe(true); // exactly once each
    // and every one is on its grid for the next slot (ticking 100,000 more runs would double the test's time)
    const listed = await scheduler.listFabrics();
    expect(listed.every((f) => f.status === 'in_sync' && f.nextSyncAt === T0 + 60_000)).toBe(true);
    expect(errors).toEqual([]);
    const stopT = performance.now();
    await scheduler.stop();
    console.log(`100,000 concurrent upserts: ${upsertMs.toFixed(0)} ms; stop: ${(performance.now() - stopT).toFixed(0)} ms; first runs of all: ${(performance.now() - t0 - upsertMs).toFixed(0)} ms`);
  });
});

describe('shutdown edge cases', () => {
  it('upserts and syncNow during stop() start nothing; nothing runs after stop() resolves', async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 500) });
    for (let i = 0; i < 20; i++) await h.scheduler.upsertFabric({ id: `f${i}`, syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(100);
    const stopping = h.scheduler.stop();
    const late = await Promise.allSettled([
      h.scheduler.upsertFabric({ id: 'late', syncInterval: 1000 }),
      h.scheduler.syncNow('f1'),
      h.scheduler.upsertFabric({ id: 'f2', syncInterval: 2000 }),
    ]);
    expect(late[1]!.status).toBe('rejected'); // SchedulerNotRunningError
    await h.clock.tickAsync(1000);
    await stopping;
    const count = h.runs.length;
    expect(count).toBe(20);
    await h.clock.tickAsync(10_000);
    expect(h.runs).toHaveLength(count);
    expect(h.clock.countTimers()).toBe(0);
  });

  it('stop() called from inside an executor (the host reacting to a fatal error) drains cleanly', async () => {
    let stopped: Promise<void> | undefined;
    const h = makeHarness({
      behaviour: (fabric, _ctx, clock) => {
        if (fabric.id === 'fatal' && !stopped) stopped = h.scheduler.stop();
        return sleepOn(clock, 100);
      },
    });
    await h.scheduler.upsertFabric({ id: 'fatal', syncInterval: 1000 });
    await h.scheduler.upsertFabric({ id: 'other', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(200);
    await stopped;
    expect(h.scheduler.running).toBe(false);
    expect(h.scheduler.inFlightCount).toBe(0);
    const n = h.runs.length;
    await h.clock.tickAsync(5_000);
    expect(h.runs).toHaveLength(n);
    expect(h.eventsOf('error')).toEqual([]);
  });
});
