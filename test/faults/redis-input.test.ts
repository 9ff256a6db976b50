/**
 * Fault suite: hostile input through RedisStorage on the real Redis (127.0.0.1:6379, a random
 * prefix per test, cleaned up afterwards): ids with Redis-special and non-ASCII characters, the
 * same id upserted concurrently from two schedulers, foreign or unreadable data under the prefix.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StorageError, createScheduler, initialState, normalizeFabric } from '../../src/index.js';
import { RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';
import { redisKeys } from '../../src/redis/keys.js';
import { cleanupPrefix, countKeys, randomPrefix, realClient } from '../helpers/redis.js';
import { trapUnhandled } from '../helpers/faults.js';
import { sleep } from '../helpers/wait.js';

const real = realClient();
const trap = trapUnhandled();
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  expect(trap.seen).toEqual([]);
});
afterAll(async () => {
  trap.dispose();
  await real.quit();
});

function redisScheduler(prefix: string, runs: Array<{ id: string; scheduledAt: number; token: number; by: string }>, by: string, extra: { partition?: boolean } = {}) {
  const singleFlight = new RedlockSingleFlight({ clients: [real], prefix, partition: extra.partition ?? false });
  const scheduler = createScheduler({
    storage: new RedisStorage({ client: real, prefix }),
    singleFlight,
    lockTtl: 2_000,
    retry: false,
    executor: async (fabric, ctx) => {
      runs.push({ id: fabric.id, scheduledAt: ctx.scheduledAt, token: ctx.fencingToken, by });
      await sleep(5);
    },
  });
  const errors: unknown[] = [];
  scheduler.on('error', (e) => errors.push(e));
  cleanups.push(async () => {
    await scheduler.stop({ inFlight: 'abort' });
    await singleFlight.close();
  });
  return { scheduler, singleFlight, errors };
}

const SPECIAL_IDS = [
  'a:b:c',
  'sw:rec:x', // looks like our own key layout
  '*',
  '?',
  '[a-z]',
  '{hashtag}',
  ' spaced  ',
  'line\nbreak\r\ttab',
  'quote"\'`\\',
  'ünïcødé',
  '日本語のファブリック',
  '🙂👍🏽',
  'nul\u0000inside',
  'x'.repeat(1024),
];

describe('ids with Redis-special and non-ASCII characters', () => {
  it('each is stored, listed, synced and removed under exactly its own id', async () => {
    const prefix = randomPrefix('ids');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const runs: Array<{ id: string; scheduledAt: number; token: number; by: string }> = [];
    const { scheduler, errors } = redisScheduler(prefix, runs, 'a');
    for (const id of SPECIAL_IDS) await scheduler.upsertFabric({ id, syncInterval: 60_000, metadata: { label: id } });
    await scheduler.start();
    await sleep(500);
    expect(new Set(runs.map((r) => r.id))).toEqual(new Set(SPECIAL_IDS));
    expect(runs).toHaveLength(SPECIAL_IDS.length); // once each, no key collisions
    const listed = await scheduler.listFabrics();
    expect(listed.map((f) => f.id).sort()).toEqual([...SPECIAL_IDS].sort());
    expect(listed.every((f) => f.status === 'in_sync')).toBe(true);
    const { corrupt } = await new RedisStorage({ client: real, prefix }).list();
    expect(corrupt).toEqual([]);
    for (const id of SPECIAL_IDS) expect(await scheduler.removeFabric(id)).toBe(true);
    expect(await scheduler.listFabrics()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('lone UTF-16 surrogates (not encodable as UTF-8) are refused or kept distinct, never silently merged', async () => {
    const prefix = randomPrefix('surrogate');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const runs: Array<{ id: string; scheduledAt: number; token: number; by: string }> = [];
    const { scheduler } = redisScheduler(prefix, runs, 'a');
    const ids = ['bad\uD800', 'bad\uD801', 'bad\uDFFF'];
    const outcomes = await Promise.allSettled(ids.map((id) => scheduler.upsertFabric({ id, syncInterval: 60_000 })));
    // RedisStorage refuses them with a StorageError (before the fix all three were stored under one key, 'bad\uFFFD')
    for (const o of outcomes) expect(o.status === 'rejected' && o.reason).toBeInstanceOf(StorageError);
    expect(await scheduler.listFabrics()).toEqual([]);
    const { corrupt } = await new RedisStorage({ client: real, prefix }).list();
    expect(corrupt).toEqual([]);
    // a well-formed pair is fine
    await scheduler.upsertFabric({ id: 'pair\uD83D\uDE42', syncInterval: 60_000 });
    expect((await scheduler.listFabrics()).map((f) => f.id)).toEqual(['pair\uD83D\uDE42']);
  });
});

describe('the same id upserted concurrently from two schedulers on one Redis', () => {
  it('both calls settle, one definition wins whole (never a mix), and the fabric then runs once per slot across both', async () => {
    const prefix = randomPrefix('race');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const runs: Array<{ id: string; scheduledAt: number; token: number; by: string }> = [];
    const a = redisScheduler(prefix, runs, 'a');
    const b = redisScheduler(prefix, runs, 'b');
    await Promise.all([a.scheduler.start(), b.scheduler.start()]);
    for (let round = 0; round < 20; round++) {
      const results = await Promise.allSettled([
        a.scheduler.upsertFabric({ id: `same-${round}`, syncInterval: 300, metadata: { from: 'a' } }),
        b.scheduler.upsertFabric({ id: `same-${round}`, syncInterval: 400, metadata: { from: 'b' } }),
      ]);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(StorageError);
      }
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      const stored = await new RedisStorage({ client: real, prefix }).get(`same-${round}`);
      const from = stored!.definition.metadata!['from'];
      expect(stored!.definition.syncInterval).toBe(from === 'a' ? 300 : 400);
    }
    await sleep(2_500);
    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
    const bySlot = new Map<string, number>();
    for (const r of runs) bySlot.set(`${r.id}@${r.scheduledAt}`, (bySlot.get(`${r.id}@${r.scheduledAt}`) ?? 0) + 1);
    expect([...bySlot.entries()].filter(([, n]) => n > 1)).toEqual([]);
    for (let round = 0; round < 20; round++) {
      const rs = runs.filter((r) => r.id === `same-${round}`);
      expect(rs.length, `same-${round} ran`).toBeGreaterThanOrEqual(4);
      for (let i = 1; i < rs.length; i++) expect(rs[i]!.token).toBeGreaterThan(rs[i - 1]!.token);
    }
    expect(new Set(runs.map((r) => r.by))).toEqual(new Set(['a', 'b'])); // both really took part
  });
});

describe('foreign or unreadable data under the prefix', () => {
  it('is reported (error events), never crashes start(); readable fabrics run; broken ones start over when their host defines them again', async () => {
    const prefix = randomPrefix('foreign');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const k = redisKeys(prefix);
    const runs: Array<{ id: string; scheduledAt: number; token: number; by: string }> = [];
    const first = redisScheduler(prefix, runs, 'seed');
    for (const id of ['good', 'garbage', 'wrongtype', 'future', 'mismatch']) await first.scheduler.upsertFabric({ id, syncInterval: 60_000 });
    await first.scheduler.stop();
    // what another program (or an operator) left behind
    await real.hset(k.record('garbage'), 'd', '{not json');
    await real.del(k.record('wrongtype'));
    await real.set(k.record('wrongtype'), 'a plain string');
    const future = JSON.parse((await real.hget(k.record('future'), 'd'))!);
    await real.hset(k.record('future'), 'd', JSON.stringify({ ...future, schema: 99 }));
    const mismatch = JSON.parse((await real.hget(k.record('mismatch'), 'd'))!);
    await real.hset(k.record('mismatch'), 'd', JSON.stringify({ ...mismatch, definition: { ...mismatch.definition, id: 'someone-else' } }));
    await real.sadd(k.ids, 'ghost-without-record', '');
    await real.set(`${k.base}:rec:not-in-ids`, 'x');
    await real.set(`${k.base}:unknown-key`, 'written by another program');
    await real.lpush(`${k.base}:a-list`, 'x');

    const { scheduler, errors } = redisScheduler(prefix, runs, 'b');
    await scheduler.start();
    await sleep(400);
    const reported = (errors as Array<{ operation: string; fabricId?: string }>).filter((e) => e.operation === 'load').map((e) => e.fabricId).sort();
    expect(reported).toEqual(['future', 'garbage', 'mismatch', 'wrongtype']);
    expect(runs.filter((r) => r.by === 'b').map((r) => r.id)).toEqual(['good']);
    // the host defines them again: each starts over as never synced and runs
    for (const id of ['garbage', 'wrongtype', 'future', 'mismatch']) await scheduler.upsertFabric({ id, syncInterval: 60_000 });
    await sleep(400);
    expect(runs.filter((r) => r.by === 'b').map((r) => r.id).sort()).toEqual(['future', 'garbage', 'good', 'mismatch', 'wrongtype']);
    const listed = await scheduler.listFabrics();
    expect(listed.map((f) => f.id).sort()).toEqual(['future', 'garbage', 'good', 'mismatch', 'wrongtype']);
    // the foreign keys were left alone
    expect(await real.get(`${k.base}:unknown-key`)).toBe('written by another program');
    expect(await countKeys(real, prefix)).toBeGreaterThan(0);
  });

  it('a fence counter of the wrong type makes only that fabric fail with StorageError, reported, no crash', async () => {
    const prefix = randomPrefix('fence-type');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const k = redisKeys(prefix);
    await real.set(k.fence('broken'), 'not a hash');
    const runs: Array<{ id: string; scheduledAt: number; token: number; by: string }> = [];
    const { scheduler } = redisScheduler(prefix, runs, 'a');
    await scheduler.start();
    await expect(scheduler.upsertFabric({ id: 'broken', syncInterval: 200 })).rejects.toBeInstanceOf(StorageError);
    await scheduler.upsertFabric({ id: 'fine', syncInterval: 200 });
    await sleep(700);
    expect(runs.filter((r) => r.id === 'fine').length).toBeGreaterThanOrEqual(3);
    expect(runs.filter((r) => r.id === 'broken')).toEqual([]);
    expect(scheduler.running).toBe(true);
  });
});


describe('foreign or broken change log and fence data', () => {
  it('foreign log entries are skipped, a cursor not handed out resets, a log of the wrong type fails with StorageError', async () => {
    const prefix = randomPrefix('log-input');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const s = new RedisStorage({ client: real, prefix });
    const { cursor } = await s.changes(null);
    await s.write('a', { definition: normalizeFabric({ id: 'a', syncInterval: 1000 }, { syncTimeout: 0 }), state: initialState() }, null);
    await real.xadd(s.keys.log, '*', 'foo', 'bar');
    await real.xadd(s.keys.log, '*', 'i', 'x', 'k', 'weird');
    await real.xadd(s.keys.log, '*', 'k', 'r', 'i', 'b');
    const page = await s.changes(cursor);
    expect(page).toMatchObject({ reset: false, changes: [{ id: 'a', kind: 'defined' }, { id: 'b', kind: 'removed' }] });
    expect((await s.changes(page.cursor)).changes).toEqual([]);
    for (const bad of ['', '{}', '1-1', '99999999999999999999999-0:1', 'x'.repeat(10_000)]) expect((await s.changes(bad)).reset).toBe(true);
    await real.del(s.keys.log);
    await real.set(s.keys.log, 'not a stream');
    await expect(s.changes(page.cursor)).rejects.toBeInstanceOf(StorageError);
  });

  it('an unreadable fence token or tombstone field does not stop claims rising above the record', async () => {
    const prefix = randomPrefix('fence-garbage');
    cleanups.push(() => cleanupPrefix(real, prefix));
    const s = new RedisStorage({ client: real, prefix });
    const def = normalizeFabric({ id: 'g', syncInterval: 1000 }, { syncTimeout: 0 });
    const a = await s.write('g', { definition: def, state: initialState() }, null);
    if (!a.ok) throw new Error('create failed');
    const b = await s.write('g', { definition: def, state: { ...a.record.state, fencingToken: 1 } }, a.record.version, { claim: { at: Date.now(), lease: { release: () => undefined } } });
    if (!b.ok) throw new Error('claim failed');
    await real.hset(s.keys.fence('g'), 'token', 'garbage', 'version', '-x');
    const c = await s.write('g', { definition: def, state: { ...b.record.state, fencingToken: b.record.state.fencingToken + 1 } }, b.record.version);
    expect(c.ok && c.record.state.fencingToken).toBeGreaterThan(b.record.state.fencingToken);
  });
});
