import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, StorageError } from '../../src/errors.js';
import { ClockSkewError, RedisEvictionWarning } from '../../src/redis/errors.js';
import { RedisStorage, type RedisStorageClient } from '../../src/redis/storage.js';
import { migrateRedisData } from '../../src/redis/migrate.js';
import { CONTROL_RECORD_ID, LEGACY_CONTROL_RECORD_ID } from '../../src/ops/control.js';
import { SCHEMA_VERSION, legacyKeys } from '../../src/redis/keys.js';
import { cleanupPrefix, countKeys, mockClient, randomPrefix, realClient, startOwnRedis } from '../helpers/redis.js';
import { write01 } from '../helpers/redis-legacy.js';
import { claimOptions, claimRun, fabric, redisCorrupt, state, storageContract, type StorageFixture } from '../storage-contract.js';
import type { FabricState } from '../../src/storage/types.js';

/** A prefix holding `{`, `}` and `%` (never a hash tag, never confused with its encoding). */
function hostilePrefix(tag: string): string {
  return `${randomPrefix(tag)}{a}%7B}`;
}

function fixture(client: Redis, kinds: ReadonlyArray<'garbage' | 'wrong-type'>, extra: Partial<StorageFixture> = {}): StorageFixture {
  const prefix = hostilePrefix('contract');
  const storage = new RedisStorage({ client, prefix, listBatchSize: 7, changePageSize: 10 });
  return {
    storage,
    corruptKinds: kinds,
    corrupt: (id, kind) => redisCorrupt(client, storage.keys.record(id), kind),
    cleanup: async () => {
      await cleanupPrefix(client, prefix);
      expect(await countKeys(client, prefix)).toBe(0);
    },
    ...extra,
  };
}

const mock = mockClient();
const real = realClient();
afterAll(async () => {
  mock.disconnect();
  await real.quit();
});

storageContract('RedisStorage on ioredis-mock', async () =>
  fixture(mock, ['garbage'], { changesUnsupported: 'ioredis-mock has no XINFO inside Lua (the CHANGES script needs it)' }),
);
storageContract('RedisStorage on Redis 127.0.0.1:6379', async () => fixture(real, ['garbage', 'wrong-type']));

describe('RedisStorage specifics (real Redis)', () => {
  const prefixes: string[] = [];
  afterEach(async () => {
    for (const p of prefixes.splice(0)) await cleanupPrefix(real, p);
  });
  /** A RedisStorage on the real Redis under a fresh prefix, whose keys go after the test. */
  function storageOn(tag: string, options: Partial<ConstructorParameters<typeof RedisStorage>[0]> = {}): { prefix: string; s: RedisStorage } {
    const prefix = randomPrefix(tag);
    prefixes.push(prefix);
    return { prefix, s: new RedisStorage({ client: real, prefix, ...options }) };
  }

  it('validates its options, saying what was expected and what arrived', () => {
    expect(() => new RedisStorage({ client: real, prefix: '' })).toThrow(InvalidOptionError);
    expect(() => new RedisStorage({ client: real, prefix: '' })).toThrow(/Expected prefix to be a non-empty string, got string ""/);
    expect(() => new RedisStorage({ client: {} as Redis, prefix: 'p' })).toThrow(/Expected client to be an ioredis client/);
    expect(() => new RedisStorage({ client: real, prefix: 'p', listBatchSize: 0 })).toThrow(/Expected listBatchSize to be a positive integer, got 0/);
    for (const name of ['maxClockSkew', 'tombstoneTtl', 'changeLogSize', 'changePageSize'] as const) {
      expect(() => new RedisStorage({ client: real, prefix: 'p', [name]: -1 })).toThrow(new RegExp(`Expected ${name} to be a positive integer`));
      expect(() => new RedisStorage({ client: real, prefix: 'p', [name]: 1.5 })).toThrow(InvalidOptionError);
    }
  });

  it('keeps the fence when the record key is lost: a host create keeps the token, a claim goes above, stale updates are refused', async () => {
    const { s } = storageOn('fence');
    const a = await s.write('f', { definition: fabric('f'), state: state() }, null);
    if (!a.ok) throw new Error('create failed');
    const b = await claimRun(s, a.record);
    const t1 = b.state.fencingToken;
    expect(t1).toBeGreaterThan(1e15); // floored by Redis time (ms x 1000)
    expect(await real.hget(s.keys.fence('f'), 'token')).toBe(String(t1));
    // an operator (or eviction) drops the record key, the fence survives
    await real.del(s.keys.record('f'));
    const c = await s.write('f', { definition: fabric('f'), state: state() }, null);
    if (!c.ok) throw new Error('re-create failed');
    expect(c.record.state.fencingToken).toBe(t1); // a non-claim create hands nothing out
    expect(c.record.version).toBeGreaterThan(b.version);
    // an update carrying a token below the stored one is refused even at the right version
    const low = await s.write('f', { definition: fabric('f'), state: state({ fencingToken: t1 - 1 }) }, c.record.version);
    expect(low.ok).toBe(false);
    const d = await claimRun(s, c.record);
    expect(d.state.fencingToken).toBeGreaterThan(t1);
    expect(await real.hget(s.keys.fence('f'), 'token')).toBe(String(d.state.fencingToken));
  });

  it('stores a schema version and a definition digest; refuses data written by a newer schema and asks to migrate 0.1 data', async () => {
    const { prefix, s } = storageOn('schema');
    await s.write('a', { definition: fabric('a'), state: state() }, null);
    expect(await real.get(s.keys.schema)).toBe(String(SCHEMA_VERSION));
    const [h, d] = await real.hmget(s.keys.record('a'), 'h', 'd');
    expect(h).toMatch(/^[0-9a-f]{40}$/);
    const doc = JSON.parse(d!);
    expect(doc.schema).toBe(SCHEMA_VERSION);
    expect(doc.state.fencingToken).toBeUndefined();
    await real.set(s.keys.schema, String(SCHEMA_VERSION + 1));
    const fresh = new RedisStorage({ client: real, prefix });
    await expect(fresh.list()).rejects.toThrow(StorageError);
    await expect(fresh.get('a')).rejects.toThrow(/schema version 3/);
    // 0.1 data (schema 1) under a prefix: a StorageError telling what to run
    const old = storageOn('schema1{x}');
    await real.set(legacyKeys(old.prefix).schema, '1');
    prefixes.push(old.prefix);
    const err = await old.s.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toContain(`npx syncwheel migrate --prefix '${old.prefix}'`);
  });

  it('keeps every key under the encoded prefix, one hash tag per fabric; a tombstone expires after tombstoneTtl and a host create keeps it no longer', async () => {
    const { prefix, s } = storageOn('layout{x}', { tombstoneTtl: 60_000 });
    await s.write('a', { definition: fabric('a'), state: state() }, null);
    await s.write('b', { definition: fabric('b'), state: state() }, null);
    await s.delete('b');
    const k = s.keys;
    const keys = (await real.keys(`${prefix.replace('{', '%7B').replace('}', '%7D')}*`)).sort();
    expect(keys).toEqual([k.schema, k.ids, k.log, k.record('a'), k.fence('a'), k.fence('b')].sort());
    expect(k.record('a')).toContain(k.tag('a'));
    expect(k.fence('a')).toContain(k.tag('a'));
    expect(k.lock('a')).toContain(k.tag('a'));
    expect(await real.hget(k.fence('b'), 'removed')).toMatch(/^\d{13}$/);
    const ttl = await real.pttl(k.fence('b'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await real.pttl(k.fence('a'))).toBe(-1);
    const again = await s.write('b', { definition: fabric('b'), state: state() }, null);
    expect(again.ok).toBe(true);
    expect(await real.pttl(k.fence('b'))).toBe(-1);
    expect(await real.hget(k.fence('b'), 'removed')).toBeNull();
  });

  it('refuses a claim whose claimer clock is off Redis time by more than maxClockSkew (ClockSkewError with data), writing nothing', async () => {
    const { s } = storageOn('skew', { maxClockSkew: 1_000 });
    const a = await s.write('k', { definition: fabric('k'), state: state() }, null);
    if (!a.ok) throw new Error('create failed');
    const [sec] = await real.time();
    const redisNow = Number(sec) * 1000;
    const err = await claimRun(s, a.record, claimOptions(redisNow + 10_000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClockSkewError);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as ClockSkewError).fabricId).toBe('k');
    expect((err as ClockSkewError).maxClockSkew).toBe(1_000);
    expect((err as ClockSkewError).skewMs).toBeGreaterThan(8_000);
    expect(await s.get('k')).toEqual(a.record);
    const behind = await claimRun(s, a.record, claimOptions(redisNow - 10_000)).catch((e: unknown) => e);
    expect((behind as ClockSkewError).skewMs).toBeLessThan(-8_000);
    // within the bound: accepted
    expect((await claimRun(s, a.record, claimOptions(redisNow + 300))).state.fencingToken).toBeGreaterThan(a.record.state.fencingToken);
  });

  it('gives typed errors for hostile claim options', async () => {
    const { s } = storageOn('hostile');
    const a = await s.write('h', { definition: fabric('h'), state: state() }, null);
    if (!a.ok) throw new Error('create failed');
    await expect(claimRun(s, a.record, claimOptions(Number.NaN))).rejects.toThrow(/claim.at/);
    const proofOf = (key: unknown, value: unknown) => ({ claim: { at: Date.now(), lease: { release: () => undefined, proof: { key, value } } } }) as never;
    await expect(claimRun(s, a.record, proofOf(s.keys.lock('other'), 'v'))).rejects.toThrow(/not this fabric's/);
    await expect(claimRun(s, a.record, proofOf(s.keys.lock('h'), 42))).rejects.toBeInstanceOf(StorageError);
    await expect(s.write('h', null as never, a.record.version)).rejects.toBeInstanceOf(StorageError);
    expect(await s.get('h')).toEqual(a.record);
  });

  it('change feed: reset when the log was trimmed past the cursor, lost, or rolled back behind it', async () => {
    const { s } = storageOn('feed', { changeLogSize: 10, changePageSize: 5 });
    const start = await s.changes(null);
    expect(start.reset).toBe(true);
    for (let i = 0; i < 400; i++) await s.write(`f${i}`, { definition: fabric(`f${i}`), state: state() }, null);
    expect(await real.xlen(s.keys.log)).toBeLessThan(400);
    expect((await s.changes(start.cursor)).reset).toBe(true); // trimmed past
    let cursor = (await s.changes(null)).cursor;
    const older = await real.dumpBuffer(s.keys.log);
    await s.write('new', { definition: fabric('new'), state: state() }, null);
    const page = await s.changes(cursor);
    expect(page).toMatchObject({ reset: false, changes: [{ id: 'new', kind: 'defined' }] });
    cursor = page.cursor;
    // rolled back to the copy before 'new': the cursor is beyond the log's end
    await real.restore(s.keys.log, 0, older!, 'REPLACE');
    expect((await s.changes(cursor)).reset).toBe(true);
    // the log is gone (data loss), then new writes re-create it
    cursor = (await s.changes(null)).cursor;
    await real.del(s.keys.log);
    expect((await s.changes(cursor)).reset).toBe(true);
    await s.write('after-loss', { definition: fabric('after-loss'), state: state() }, null);
    expect((await s.changes(cursor)).reset).toBe(true);
  });

  it('an idle change poll costs one Redis command, whatever the number of fabrics', async () => {
    const own = await startOwnRedis();
    const client = own.client();
    try {
      const s = new RedisStorage({ client, prefix: 'idle{x}' });
      for (let i = 0; i < 200; i++) await s.write(`f${i}`, { definition: fabric(`f${i}`), state: state() }, null);
      const { cursor } = await s.changes(null);
      const processed = async () => Number(/total_commands_processed:(\d+)/.exec(await client.info('stats'))![1]);
      const before = await processed();
      for (let i = 0; i < 20; i++) expect((await s.changes(cursor)).changes).toEqual([]);
      const after = await processed();
      expect(after - before - 1).toBe(20); // as Redis counts them (INFO stats), minus the second INFO itself
      // and a claim, an outcome: a handful of commands as Redis counts them (script calls included), whatever the fleet
      let rec = (await s.get('f1'))!;
      rec = await claimRun(s, rec); // loads the script
      const costOf = async (f: () => Promise<unknown>) => {
        const b = await processed();
        await f();
        return (await processed()) - b - 1;
      };
      const proof = { key: s.keys.lock('f1'), value: 'me' };
      await client.set(proof.key, 'me');
      const claim = await costOf(async () => (rec = await claimRun(s, rec, claimOptions(Date.now(), { release: () => undefined, proof }))));
      const outcome = await costOf(() => s.write('f1', { definition: rec.definition, state: { ...rec.state, status: 'in_sync' } }, rec.version));
      expect(claim).toBe(7); // EVALSHA + TIME, HMGET fence, HMGET record, GET lock, HSET record, HSET fence
      expect(outcome).toBe(6);
      // an outcome that appends run history: LPUSH and LTRIM in the same script (one round trip)
      rec = (await s.get('f1'))!;
      const entry = { scheduledAt: 1, startedAt: 2, finishedAt: 3, trigger: 'schedule' as const, outcome: 'succeeded' as const, durationMs: 1, fencingToken: rec.state.fencingToken };
      const withHistory = await costOf(() => s.write('f1', { definition: rec.definition, state: rec.state as FabricState }, rec.version, { history: { entry, keep: 20 } }));
      expect(withHistory).toBe(8);
      expect(await s.readHistory('f1', 5)).toEqual([entry]);
    } finally {
      client.disconnect();
      await own.kill();
    }
  });

  it('warns when maxmemory-policy may evict its keys, not otherwise, and not when INFO is refused', async () => {
    const own = await startOwnRedis();
    const client = own.client();
    try {
      const s = new RedisStorage({ client, prefix: 'warn' });
      expect(await s.warnings()).toEqual([]);
      for (const policy of ['allkeys-lru', 'volatile-ttl']) {
        await client.config('SET', 'maxmemory-policy', policy);
        const [w, ...rest] = await s.warnings();
        expect(rest).toEqual([]);
        expect(w).toBeInstanceOf(RedisEvictionWarning);
        expect((w as RedisEvictionWarning).policy).toBe(policy);
        expect(w!.message).toMatch(policy.startsWith('allkeys') ? /any syncwheel key/ : /locks/);
      }
      const refusing = new Proxy(client, { get: (t, p) => (p === 'info' ? () => Promise.reject(new Error('NOPERM')) : Reflect.get(t, p)) });
      expect(await new RedisStorage({ client: refusing as RedisStorageClient, prefix: 'warn' }).warnings()).toEqual([]);
    } finally {
      client.disconnect();
      await own.kill();
    }
  });

  it('rejects with a StorageError (not a crash) when Redis cannot be reached', async () => {
    const { Redis } = await import('ioredis');
    const dead = new Redis({ port: 1, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    dead.on('error', () => undefined);
    const s = new RedisStorage({ client: dead, prefix: randomPrefix('dead') });
    await expect(s.list()).rejects.toBeInstanceOf(StorageError);
    await expect(s.write('a', { definition: fabric('a'), state: state() }, null)).rejects.toBeInstanceOf(StorageError);
    dead.disconnect();
  });
});

describe('migrateRedisData: syncwheel 0.1 data (schema 1) to schema 2', () => {
  for (const [label, tag] of [['a plain prefix (old and new schema/ids keys coincide)', 'mig'], ['a prefix with braces', 'mig{b}']] as const) {
    it(`moves records, fences and the control record, keeps tokens and versions, deletes old keys, and is idempotent: ${label}`, async () => {
      const prefix = randomPrefix(tag);
      try {
        await write01(real, prefix);
        const storage = new RedisStorage({ client: real, prefix });
        await expect(storage.list()).rejects.toThrow(/npx syncwheel migrate --prefix/);
        const dry = await migrateRedisData({ client: real, prefix, dryRun: true });
        expect(dry).toMatchObject({ dryRun: true, schemaBefore: 1, records: 3, control: true, fences: 1, unreadable: ['bad'], deletedKeys: 0 });
        expect(await real.exists(legacyKeys(prefix).record('a'))).toBe(1);
        const done = await migrateRedisData({ client: real, prefix });
        expect(done).toMatchObject({ dryRun: false, records: 3, control: true, fences: 1, alreadyMigrated: 0, unreadable: ['bad'] });
        expect(done.deletedKeys).toBeGreaterThanOrEqual(7);
        const s = new RedisStorage({ client: real, prefix });
        const { records, corrupt } = await s.list();
        expect(corrupt).toEqual([]);
        expect(records.map((r) => r.definition.id).sort()).toEqual([CONTROL_RECORD_ID, 'a', 'b:{x}'].sort());
        const a = (await s.get('a'))!;
        expect(a.version).toBe(3);
        expect(a.state.fencingToken).toBe(1700000000000002);
        expect(a.state).toMatchObject({ status: 'in_sync', lastSyncAt: 5 });
        expect(await real.hget(s.keys.fence('a'), 'token')).toBe('1700000000000020'); // max of both
        expect(await real.hget(s.keys.fence('gone'), 'token')).toBe('1700000000000050');
        const controlRecord = (await s.get(CONTROL_RECORD_ID))!;
        expect((controlRecord.definition.metadata!['control'] as { scheduler: number }).scheduler).toBe(123);
        expect(await real.get(s.keys.schema)).toBe('2');
        expect(await real.exists(legacyKeys(prefix).record('a'), legacyKeys(prefix).fence('gone'), legacyKeys(prefix).record(LEGACY_CONTROL_RECORD_ID))).toBe(0);
        expect(await real.sismember(s.keys.ids, LEGACY_CONTROL_RECORD_ID)).toBe(0);
        // works as schema 2: claims rise above the migrated tokens, the deleted fabric's too
        expect((await claimRun(s, a)).state.fencingToken).toBeGreaterThan(1700000000000020);
        const again = await s.write('gone', { definition: fabric('gone'), state: state() }, null);
        expect(again.ok && again.record.version).toBeGreaterThan(9);
        // a second run changes nothing
        const second = await migrateRedisData({ client: real, prefix });
        expect(second).toMatchObject({ schemaBefore: 2, records: 0, fences: 0, deletedKeys: 0 });
        expect((await s.get('a'))!.version).toBeGreaterThan(3);
      } finally {
        await cleanupPrefix(real, prefix);
      }
    });
  }

  it('refuses hostile options and data of an unknown schema with typed errors', async () => {
    await expect(migrateRedisData({ client: real, prefix: '' })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(migrateRedisData({ client: {} as Redis, prefix: 'p' })).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(migrateRedisData({ client: real, prefix: 'p', dryRun: 'yes' as never })).rejects.toBeInstanceOf(InvalidOptionError);
    const prefix = randomPrefix('mig-future');
    try {
      await real.set(legacyKeys(prefix).schema, '9');
      await expect(migrateRedisData({ client: real, prefix })).rejects.toThrow(/schema version 9/);
    } finally {
      await cleanupPrefix(real, prefix);
    }
  });
});

describe('RedisStorage.listPage on real Redis (an id set large enough for SSCAN to page)', () => {
  it('600 records in pages of 50: several pages, every record in one, and start() loads them all through it', async () => {
    const prefix = randomPrefix('pages');
    const storage = new RedisStorage({ client: real, prefix });
    try {
      const ids = Array.from({ length: 600 }, (_, i) => `f${i}`);
      for (const id of ids) expect((await storage.write(id, { definition: fabric(id), state: state() }, null)).ok).toBe(true);
      const seen = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<RedisStorage['listPage']>> = await storage.listPage(cursor, 50);
        for (const r of page.records) seen.add(r.definition.id);
        cursor = page.cursor;
        pages++;
      } while (cursor !== null && pages < 1_000);
      expect(pages).toBeGreaterThan(3);
      expect(seen.size).toBe(600);
      const { createScheduler } = await import('../../src/index.js');
      const scheduler = createScheduler({ storage, executor: () => undefined, retry: false, historySize: 0 });
      const listPage = storage.listPage.bind(storage);
      let asked = 0;
      Object.defineProperty(storage, 'listPage', { value: (c: string | null, l: number) => (asked++, listPage(c, l)) });
      await scheduler.start();
      expect(asked).toBeGreaterThan(0);
      expect((await scheduler.listFabrics()).length).toBe(600);
      expect(Object.values(scheduler.metrics().fabrics).reduce((a, b) => a + b, 0)).toBe(600); // a runtime each
      await scheduler.stop({ inFlight: 'abort' });
    } finally {
      await cleanupPrefix(real, prefix);
    }
  });
});
