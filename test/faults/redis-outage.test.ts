/**
 * Fault suite: Redis killed and restarted mid-run (with its data kept, and empty), and Redlock
 * over three independent masters losing one, then two. Each test starts its own redis-server(s)
 * on ports in 6390..6689 and stops them afterwards. Two replicas run in this process (each with
 * its own clients, as separate services would). Real time; tolerances are wide.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createScheduler, type SchedulerEvents } from '../../src/index.js';
import { LockUnavailableError, RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';
import { trapUnhandled } from '../helpers/faults.js';
import { cleanupPrefix, randomPrefix, realClient, startOwnRedis, type OwnRedis } from '../helpers/redis.js';
import { slotsRunTwice } from '../helpers/replicas.js';
import { sleep, until } from '../helpers/wait.js';

interface Run {
  replica: string;
  fabricId: string;
  scheduledAt: number;
  token: number;
  start: number;
  end?: number;
}

const trap = trapUnhandled();
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  expect(trap.seen).toEqual([]);
});
afterAll(() => trap.dispose());

const FABRICS = Array.from({ length: 10 }, (_, i) => `f${i}`);

/** One replica: its own clients, storage on `storageClient`'s Redis, locks on `lockClients`. */
function replica(name: string, storageClient: Redis, lockClients: Redis[], prefix: string, runs: Run[]) {
  const singleFlight = new RedlockSingleFlight({ clients: lockClients, prefix, membershipTtl: 1_000, heartbeatInterval: 200 });
  const errors: Array<Parameters<SchedulerEvents['error']>[0] & { at: number }> = [];
  const scheduler = createScheduler({
    storage: new RedisStorage({ client: storageClient, prefix }),
    singleFlight,
    lockTtl: 1_000,
    retry: false,
    executor: async (fabric, ctx) => {
      const run: Run = { replica: name, fabricId: fabric.id, scheduledAt: ctx.scheduledAt, token: ctx.fencingToken, start: Date.now() };
      runs.push(run);
      await sleep(20);
      run.end = Date.now();
    },
  });
  scheduler.on('error', (e) => errors.push({ ...e, at: Date.now() }));
  cleanups.push(async () => {
    await scheduler.stop({ inFlight: 'abort', drainTimeout: 0 });
    await singleFlight.close();
  });
  return { scheduler, singleFlight, errors };
}

/** Promise checks shared by every case: no (fabric, slot) twice, no overlap, tokens increase. */
function checkRuns(runs: Run[]): void {
  expect(slotsRunTwice(runs), 'slots run twice').toEqual([]);
  for (const f of FABRICS) {
    const rs = runs.filter((r) => r.fabricId === f).sort((a, b) => a.start - b.start);
    for (let i = 1; i < rs.length; i++) {
      expect(rs[i]!.start, `${f}: no overlap`).toBeGreaterThanOrEqual(rs[i - 1]!.end ?? Number.POSITIVE_INFINITY);
      expect(rs[i]!.token, `${f}: fencing tokens never go backwards`).toBeGreaterThan(rs[i - 1]!.token);
    }
  }
}

function client(r: OwnRedis): Redis {
  const c = r.client();
  cleanups.push(async () => c.disconnect());
  return c;
}

describe('Redis killed and restarted mid-run', () => {
  for (const mode of ['with its data kept (RDB on shutdown)', 'empty (no persistence, as many caches run)'] as const) {
    const keep = mode.startsWith('with');
    it(`${mode}: no crash, error events during the outage, no slot twice, tokens never go backwards, every fabric runs again within seconds`, { timeout: 40_000 }, async () => {
      const dir = keep ? mkdtempSync(join(tmpdir(), 'swfault-')) : undefined;
      const redis = await startOwnRedis(dir ? { persistDir: dir } : {});
      cleanups.push(async () => {
        await redis.kill();
        if (dir) rmSync(dir, { recursive: true, force: true });
      });
      const prefix = randomPrefix('outage');
      const runs: Run[] = [];
      const ca = client(redis);
      const cb = client(redis);
      const a = replica('a', ca, [ca], prefix, runs);
      const b = replica('b', cb, [cb], prefix, runs);
      for (const f of FABRICS) await a.scheduler.upsertFabric({ id: f, syncInterval: 300 });
      for (const f of FABRICS) await b.scheduler.upsertFabric({ id: f, syncInterval: 300 });
      await Promise.all([a.singleFlight.ready(), b.singleFlight.ready()]);
      await Promise.all([a.scheduler.start(), b.scheduler.start()]);
      await sleep(1_500);
      expect(a.errors.concat(b.errors)).toEqual([]);

      const downAt = Date.now();
      if (keep) await redis.shutdown();
      else await redis.kill();
      await sleep(1_500);
      const upAt = Date.now();
      const duringOutage = runs.filter((r) => r.start > downAt + 100 && r.start < upAt);
      expect(duringOutage, 'nothing runs while Redis is away').toEqual([]);
      const outageErrors = a.errors.concat(b.errors).filter((e) => e.at >= downAt && e.at <= upAt);
      expect(outageErrors.length).toBeGreaterThan(0);
      expect(outageErrors.every((e) => e.error instanceof Error)).toBe(true);
      expect(a.scheduler.running && b.scheduler.running).toBe(true);

      await redis.start();
      const recovery = await until(() => FABRICS.every((f) => runs.some((r) => r.fabricId === f && r.start > upAt)), 10_000, 'every fabric ran again');
      await sleep(1_500);
      await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);

      checkRuns(runs);
      for (const f of FABRICS) {
        const before = runs.filter((r) => r.fabricId === f && r.start < downAt);
        const after = runs.filter((r) => r.fabricId === f && r.start > upAt);
        expect(before.length).toBeGreaterThanOrEqual(3);
        expect(after.length).toBeGreaterThanOrEqual(3);
        expect(Math.min(...after.map((r) => r.token)), `${f}: first token after the restart is above every token before`).toBeGreaterThan(Math.max(...before.map((r) => r.token)));
      }
      // the records are back (re-registered from what the replicas' hosts gave them, when they were lost)
      expect((await a.scheduler.listFabrics()).map((f) => f.id).sort()).toEqual([...FABRICS].sort());
      expect(new Set(runs.filter((r) => r.start > upAt).map((r) => r.replica))).toEqual(new Set(['a', 'b']));
      console.log(`Redis restarted ${keep ? 'with data' : 'empty'}: ${runs.length} runs, ${outageErrors.length} error events in a 1.5 s outage, every fabric ran again ${recovery} ms after Redis was back`);
    });
  }
});

describe('Redlock over three independent masters', () => {
  it('one master down: syncs go on; two down: nothing runs (no quorum), errors say so; both back: it recovers', { timeout: 40_000 }, async () => {
    const masters = await Promise.all([startOwnRedis(), startOwnRedis(), startOwnRedis()]);
    cleanups.push(async () => {
      for (const m of masters) await m.kill();
    });
    const storageRedis = realClient();
    cleanups.push(async () => storageRedis.quit());
    const prefix = randomPrefix('redlock');
    cleanups.push(() => cleanupPrefix(storageRedis, prefix));
    const runs: Run[] = [];
    const lockClients = () => masters.map((m) => client(m));
    const a = replica('a', storageRedis, lockClients(), prefix, runs);
    const b = replica('b', storageRedis, lockClients(), prefix, runs);
    for (const f of FABRICS) await a.scheduler.upsertFabric({ id: f, syncInterval: 300 });
    await Promise.all([a.singleFlight.ready(), b.singleFlight.ready()]);
    await Promise.all([a.scheduler.start(), b.scheduler.start()]);
    await sleep(1_200);

    // one down (the membership master, the hardest one: partitioning falls back to "every replica tries, the lock decides")
    await masters[0]!.kill();
    const oneDownAt = Date.now();
    await sleep(2_000);
    const oneDown = runs.filter((r) => r.start > oneDownAt + 300);
    // "Go on", not "on time": each acquire waits for the dead master's connection to fail, and
    // under a loaded CI machine that costs slots (about 70 % run on time when idle).
    for (const f of FABRICS) expect(oneDown.filter((r) => r.fabricId === f).length, `${f} runs with one master down`).toBeGreaterThanOrEqual(2);

    // two down: no quorum
    await masters[1]!.kill();
    const twoDownAt = Date.now();
    await sleep(2_000);
    const twoDownUntil = Date.now();
    expect(runs.filter((r) => r.start > twoDownAt + 100 && r.start < twoDownUntil), 'nothing runs without a quorum').toEqual([]);
    const quorumErrors = a.errors.concat(b.errors).filter((e) => e.at > twoDownAt && e.operation === 'lock');
    expect(quorumErrors.length).toBeGreaterThan(0);
    expect(quorumErrors.every((e) => e.error instanceof LockUnavailableError)).toBe(true);

    // both back
    await masters[0]!.start();
    await masters[1]!.start();
    const backAt = Date.now();
    const recovery = await until(() => FABRICS.every((f) => runs.some((r) => r.fabricId === f && r.start > backAt)), 10_000, 'every fabric ran again');
    await sleep(1_000);
    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
    checkRuns(runs);
    console.log(`Redlock x3: ${oneDown.length} runs in 1.7 s with one master down, 0 with two down (${quorumErrors.length} LockUnavailableError events), every fabric ran again ${recovery} ms after the masters were back`);
  });
});
