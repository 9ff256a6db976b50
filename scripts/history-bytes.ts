/**
 * Measures run history bytes per entry (docs/operations.md, "Run history"):
 *   node --expose-gc --import tsx scripts/history-bytes.ts ok|ok-replica|fail-replica   MemoryStorage: retained heap
 *   node --import tsx scripts/history-bytes.ts redis     RedisStorage on 127.0.0.1:6379: MEMORY USAGE per history key / entries
 * Entries: a success without replica, a success naming a replica ('host-1:4711:1f2e3d4c'), a
 * failure naming it with a 43-character error; tokens of Redis' size (~1.76e15).
 */
import { Redis } from 'ioredis';
import { MemoryStorage, initialState, normalizeFabric, type RunHistoryEntry } from '../src/index.js';
import { RedisStorage } from '../src/redis/index.js';

const FABRICS = 5_000;
const KEEP = 20;
const T0 = 1_764_460_000_000;
const entryOf = (i: number, k: number, token: number, kind: 'ok' | 'fail', replica: string | undefined): RunHistoryEntry => ({
  scheduledAt: T0 + k * 60_000, startedAt: T0 + k * 60_000 + 3, finishedAt: T0 + k * 60_000 + 850, trigger: 'schedule',
  ...(kind === 'ok' ? { outcome: 'succeeded' as const } : { outcome: 'failed' as const, reason: 'error' as const, error: 'controller returned 503 Service Unavailable' }),
  durationMs: 847, fencingToken: token, ...(replica ? { replica } : {}),
});
const gc = (): void => { (globalThis as { gc?: () => void }).gc!(); (globalThis as { gc?: () => void }).gc!(); };

async function fill(storage: MemoryStorage | RedisStorage, kind: 'ok' | 'fail', replica: string | undefined, ids: string[]) {
  for (const id of ids) {
    let rec = (await storage.write(id, { definition: normalizeFabric({ id, syncInterval: 60_000 }, { syncTimeout: 0 }), state: initialState() }, null));
    if (!rec.ok) throw new Error('create');
    let r = rec.record;
    for (let k = 0; k < KEEP; k++) {
      const token = (kind === 'ok' ? 1_764_460_000_000_000 : 1_764_460_000_000_000) + k + 1;
      const w = await storage.write(id, { definition: r.definition, state: { ...r.state, fencingToken: Math.max(token, r.state.fencingToken + 1) } }, r.version, { history: { entry: entryOf(0, k, Math.max(token, r.state.fencingToken + 1), kind, replica), keep: KEEP } });
      if (!w.ok) throw new Error('write');
      r = w.record;
    }
  }
}

async function main() {
  const replica = 'host-1:4711:1f2e3d4c';
  const mode = process.argv[2] ?? 'redis';
  if (mode !== 'redis') {
    const [kind, rep] = mode === 'ok' ? (['ok', undefined] as const) : mode === 'ok-replica' ? (['ok', replica] as const) : (['fail', replica] as const);
    const n = 20_000;
    const ids = Array.from({ length: n }, (_, i) => `fab-${String(i).padStart(6, '0')}`);
    const storage = new MemoryStorage();
    // records written as often as with history, without it: the baseline
    for (const id of ids) {
      const c = storage.write(id, { definition: normalizeFabric({ id, syncInterval: 60_000 }, { syncTimeout: 0 }), state: initialState() }, null);
      if (!c.ok) throw new Error('x');
    }
    gc();
    const h0 = process.memoryUsage().heapUsed;
    for (const id of ids) {
      let r = (await storage.get(id))!;
      for (let k = 0; k < KEEP; k++) {
        const token = r.state.fencingToken + 1;
        const w = storage.write(id, { definition: r.definition, state: { ...r.state, fencingToken: token } }, r.version, { history: { entry: entryOf(0, k, 1_764_460_000_000_000 + token, kind, rep), keep: KEEP } });
        if (!w.ok) throw new Error('w');
        r = w.record;
      }
    }
    gc();
    const h1 = process.memoryUsage().heapUsed;
    const sample = (await storage.readHistory(ids[0]!, 1))[0]!;
    console.log(`memory ${mode}: ${((h1 - h0) / (n * KEEP)).toFixed(1)} B/entry retained (${n * KEEP} entries in ${n} fabrics; ${((h1 - h0) / n).toFixed(0)} B per fabric of ${KEEP}); the same entry as JSON: ${JSON.stringify(sample).length} B`);
    void storage.size;
    return;
  }
  const client = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  const prefix = `swtest:histbytes:${Math.random().toString(36).slice(2)}`;
  try {
    for (const [kind, rep] of [['ok', undefined], ['ok', replica], ['fail', replica]] as const) {
      const storage = new RedisStorage({ client, prefix: `${prefix}:${kind}${rep ? 'r' : ''}`, maxClockSkew: Number.POSITIVE_INFINITY });
      const ids = Array.from({ length: 200 }, (_, i) => `fab-${String(i).padStart(6, '0')}`);
      await fill(storage, kind, rep, ids);
      let total = 0;
      let raw = 0;
      for (const id of ids) {
        total += Number(await client.call('MEMORY', 'USAGE', storage.keys.history(id), 'SAMPLES', '0'));
        for (const e of await client.lrange(storage.keys.history(id), 0, -1)) raw += Buffer.byteLength(e);
      }
      const encoding = await client.call('OBJECT', 'ENCODING', storage.keys.history(ids[0]!));
      console.log(`redis ${kind}${rep ? ' +replica' : ''}: MEMORY USAGE ${(total / ids.length / KEEP).toFixed(1)} B/entry (${(total / ids.length).toFixed(0)} B per key of ${KEEP}, ${encoding}); encoded entry ${(raw / ids.length / KEEP).toFixed(1)} B`);
    }
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await client.unlink(...keys);
    } while (cursor !== '0');
    client.disconnect();
  }
}
main();
