/**
 * Fencing tokens are unique and rising per fabric whatever Redis loses: each test drives a real
 * redis-server of its own (spare port, temp dir) through a loss, then checks that every token
 * handed out after it is above every token handed out before. Each fails if the guarantee breaks
 * (e.g. with the 0.1 rule, where the time floor applied only when the fence was missing).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisStorage } from '../../src/redis/storage.js';
import type { FabricRecord, Storage } from '../../src/storage/types.js';
import { startOwnRedis, type OwnRedis } from '../helpers/redis.js';
import { claimOptions, claimRun, fabric, state } from '../storage-contract.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function ownRedis(persist = false): Promise<OwnRedis> {
  const dir = persist ? mkdtempSync(join(tmpdir(), 'sw-fencing-')) : undefined;
  const own = await startOwnRedis(dir ? { persistDir: dir } : {});
  cleanups.push(async () => {
    await own.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return own;
}

function clientOf(own: OwnRedis): Redis {
  const c = own.client();
  cleanups.push(() => c.disconnect());
  return c;
}

/** What a replica does to claim a run: read the record, write token + 1 with claim options. */
async function claimFresh(s: Storage, id: string): Promise<number> {
  const current = await s.get(id);
  if (!current) throw new Error(`${id} is gone`);
  return (await claimRun(s, current)).state.fencingToken;
}

async function create(s: Storage, id: string): Promise<FabricRecord> {
  const r = await s.write(id, { definition: fabric(id), state: state() }, null);
  if (!r.ok) throw new Error(`create of ${id} failed: ${JSON.stringify(r)}`);
  return r.record;
}

/** A storage on `own` with a fabric `f` claimed `claims` times; the tokens handed out. */
async function claimed(own: OwnRedis, prefix: string, claims: number): Promise<{ client: Redis; s: RedisStorage; tokens: number[] }> {
  const client = clientOf(own);
  const s = new RedisStorage({ client, prefix });
  await create(s, 'f');
  const tokens: number[] = [];
  for (let i = 0; i < claims; i++) tokens.push(await claimFresh(s, 'f'));
  return { client, s, tokens };
}

/** SIGKILL, start again on the same port; a fresh storage on it. */
async function killAndRestart(own: OwnRedis, prefix: string): Promise<RedisStorage> {
  await own.kill();
  await own.start();
  return new RedisStorage({ client: clientOf(own), prefix });
}

function expectAllAbove(after: number[], before: number[]): void {
  const max = Math.max(...before);
  for (const t of after) expect(t, `token ${t} after the loss vs max ${max} before`).toBeGreaterThan(max);
}

describe('fencing tokens whatever Redis loses (real redis-server)', () => {
  it('SIGKILL after SAVE, restart from that older dump: claims after hand out tokens above every token issued before', async () => {
    const own = await ownRedis(true);
    const { client, s: first, tokens: before } = await claimed(own, 'fence{rdb}', 3);
    await client.save();
    for (let i = 0; i < 3; i++) before.push(await claimFresh(first, 'f')); // lost with the kill
    const s = await killAndRestart(own, 'fence{rdb}');
    expect((await s.get('f'))!.state.fencingToken).toBe(before[2]); // the dump's view: the last 3 are lost
    const after: number[] = [];
    for (let i = 0; i < 4; i++) after.push(await claimFresh(s, 'f'));
    expectAllAbove(after, before);
    expect(new Set([...before, ...after]).size).toBe(before.length + after.length);
  });

  it('restart with no data at all: the host re-creates the fabric, claims still go above', async () => {
    const own = await ownRedis();
    const { tokens: before } = await claimed(own, 'fence-empty', 3);
    const s = await killAndRestart(own, 'fence-empty');
    expect(await s.get('f')).toBeUndefined();
    await create(s, 'f');
    const after = [await claimFresh(s, 'f'), await claimFresh(s, 'f')];
    expectAllAbove(after, before);
  });

  it('a lagging copy of record and fence put back (DUMP/RESTORE): still rising', async () => {
    const own = await ownRedis();
    const client = clientOf(own);
    const s = new RedisStorage({ client, prefix: 'fence{lag}' });
    await create(s, 'f');
    const before = [await claimFresh(s, 'f'), await claimFresh(s, 'f')];
    const rec = await client.dumpBuffer(s.keys.record('f'));
    const fence = await client.dumpBuffer(s.keys.fence('f'));
    before.push(await claimFresh(s, 'f'), await claimFresh(s, 'f'));
    await client.restore(s.keys.record('f'), 0, rec!, 'REPLACE');
    await client.restore(s.keys.fence('f'), 0, fence!, 'REPLACE');
    expect((await s.get('f'))!.state.fencingToken).toBe(before[1]);
    const after = [await claimFresh(s, 'f'), await claimFresh(s, 'f')];
    expectAllAbove(after, before);
  });

  it('a claim\'s token is at least Redis time in µs at the claim: a loss and the next claim need not be a millisecond apart', async () => {
    // The floor was Redis ms x 1000: a failover and a claim within the millisecond of the last
    // claim before it repeated that token (seen once in CI on the failover test below).
    const own = await ownRedis();
    const client = clientOf(own);
    const s = new RedisStorage({ client, prefix: 'fence{us}' });
    await create(s, 'f');
    for (let i = 0; i < 20; i++) {
      const [sec, usec] = await client.time();
      const token = await claimFresh(s, 'f');
      expect(token).toBeGreaterThanOrEqual(Number(sec) * 1e6 + Number(usec));
    }
  });

  it('failover to a replica that stopped following before the last claims: still rising', async () => {
    // both with a temp dir: a replica writes the RDB it receives into its working directory
    const primary = await ownRedis(true);
    const replica = await ownRedis(true);
    const p = clientOf(primary);
    const r = clientOf(replica);
    const sp = new RedisStorage({ client: p, prefix: 'fence{failover}' });
    await create(sp, 'f');
    const before = [await claimFresh(sp, 'f')];
    await p.config('SET', 'repl-diskless-sync-delay', '0');
    await r.replicaof('127.0.0.1', primary.port);
    const deadline = Date.now() + 10_000;
    while (!/master_link_status:up/.test(await r.info('replication')) || (await r.hget(sp.keys.record('f'), 't')) !== String(before[0])) {
      if (Date.now() > deadline) throw new Error('replica did not sync within 10 s');
      await new Promise((res) => setTimeout(res, 20));
    }
    await r.replicaof('NO', 'ONE'); // cut off: it lags from here
    for (let i = 0; i < 3; i++) before.push(await claimFresh(sp, 'f'));
    const sr = new RedisStorage({ client: r, prefix: 'fence{failover}' });
    expect((await sr.get('f'))!.state.fencingToken).toBe(before[0]);
    const after = [await claimFresh(sr, 'f'), await claimFresh(sr, 'f')];
    expectAllAbove(after, before);
  });

  it('delete, then a replica with a stale cached record claims: refused (removed); the host re-creates it: tokens above all earlier; after the tombstone expires a stale claim still gets a higher token', async () => {
    const own = await ownRedis();
    const client = clientOf(own);
    const s = new RedisStorage({ client, prefix: 'fence{tomb}', tombstoneTtl: 300 });
    await create(s, 'f');
    const before = [await claimFresh(s, 'f'), await claimFresh(s, 'f')];
    const cached = (await s.get('f'))!;
    expect(await s.delete('f')).toBe(true);
    const stale = await s.write('f', { definition: cached.definition, state: { ...cached.state, fencingToken: cached.state.fencingToken + 1 } }, null, claimOptions());
    expect(stale).toEqual({ ok: false, current: undefined, refused: 'removed' });
    expect(await client.hget(s.keys.fence('f'), 'token')).toBe(String(before[1])); // nothing handed out
    await create(s, 'f');
    const after = [await claimFresh(s, 'f')];
    expectAllAbove(after, before);
    // delete again and let the tombstone expire: the fence is gone, the time floor still holds
    expect(await s.delete('f')).toBe(true);
    await new Promise((res) => setTimeout(res, 400));
    expect(await client.exists(s.keys.fence('f'))).toBe(0);
    const late = await s.write('f', { definition: cached.definition, state: { ...cached.state, fencingToken: cached.state.fencingToken + 1 } }, null, claimOptions());
    expect(late.ok).toBe(true);
    expectAllAbove([late.ok ? late.record.state.fencingToken : 0], [...before, ...after]);
  });

  it('many concurrent claims from several clients: every granted token unique, and rising with the version', async () => {
    const own = await ownRedis();
    const storages = Array.from({ length: 6 }, () => new RedisStorage({ client: clientOf(own), prefix: 'fence{race}' }));
    await create(storages[0]!, 'f');
    const granted: Array<{ version: number; token: number }> = [];
    await Promise.all(
      storages.map(async (s) => {
        for (let i = 0; i < 40; i++) {
          const cur = (await s.get('f'))!;
          const r = await s.write('f', { definition: cur.definition, state: { ...cur.state, fencingToken: cur.state.fencingToken + 1 } }, cur.version, claimOptions());
          if (r.ok) granted.push({ version: r.record.version, token: r.record.state.fencingToken });
        }
      }),
    );
    expect(granted.length).toBeGreaterThan(40);
    expect(new Set(granted.map((g) => g.token)).size).toBe(granted.length);
    granted.sort((a, b) => a.version - b.version);
    for (let i = 1; i < granted.length; i++) expect(granted[i]!.token).toBeGreaterThan(granted[i - 1]!.token);
  });

  it('a claim whose lock proof does not match is refused (lease-lost) and consumes no token', async () => {
    const own = await ownRedis();
    const client = clientOf(own);
    const s = new RedisStorage({ client, prefix: 'fence{proof}' });
    const rec = await create(s, 'f');
    const proofOf = (value: string) => claimOptions(Date.now(), { release: () => undefined, proof: { key: s.keys.lock('f'), value } });
    await client.set(s.keys.lock('f'), 'holder-b', 'PX', 10_000);
    const next = { definition: rec.definition, state: { ...rec.state, fencingToken: rec.state.fencingToken + 1 } };
    const lost = await s.write('f', next, rec.version, proofOf('holder-a'));
    expect(lost).toEqual({ ok: false, current: rec, refused: 'lease-lost' });
    expect((await client.hget(s.keys.fence('f'), 'token')) ?? '0').toBe(String(rec.state.fencingToken));
    await client.del(s.keys.lock('f')); // expired: no holder at all
    expect(await s.write('f', next, rec.version, proofOf('holder-a'))).toMatchObject({ ok: false, refused: 'lease-lost' });
    await client.set(s.keys.lock('f'), 'holder-a', 'PX', 10_000);
    const won = await s.write('f', next, rec.version, proofOf('holder-a'));
    expect(won.ok && won.record.state.fencingToken).toBeGreaterThan(rec.state.fencingToken);
    // the lock key is part of the script's keys: the proof check and the claim are one atomic step
    expect(await client.get(s.keys.lock('f'))).toBe('holder-a');
  });
});
