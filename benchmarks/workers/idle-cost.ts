/**
 * Redis cost (issue 10, item 4): N fabrics at an interval on R replicas (schedulers
 * with their own ioredis clients, RedisStorage + RedlockSingleFlight, default options), nothing
 * due. After every fabric has synced once (start and first syncs excluded), counts what Redis
 * itself processed over a window (`INFO stats` total_commands_processed, and `INFO commandstats`
 * per command), on a redis-server of its own (loopback, spare port) so nothing else is counted.
 *
 *   node --import tsx benchmarks/workers/idle-cost.ts '{"n":20000,"replicas":2,"windowMs":15000}' out.json
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createScheduler, type Scheduler } from '../../src/index.js';
import { RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';
import { startOwnRedis } from '../../test/helpers/redis.js';

interface Params {
  n: number;
  replicas: number;
  windowMs: number;
  interval?: string;
  tag?: string;
}

const params = { interval: 'PT1H', ...(JSON.parse(process.argv[2] ?? '{}') as Partial<Params>) } as Params & { interval: string };
params.n ??= 20_000;
params.replicas ??= 2;
params.windowMs ??= 15_000;
const out = process.argv[3];
/** Longest wait for the first syncs of every fabric. */
const FIRST_SYNCS_TIMEOUT = 300_000;
/** Quiet time after the first syncs, before the window opens. */
const SETTLE_MS = 3_000;

function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

async function main(): Promise<void> {
  const redis = await startOwnRedis();
  const admin = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  const prefix = `swidle:${params.tag ?? 'x'}`;
  const clients: Redis[] = [];
  const schedulers: Scheduler[] = [];
  try {
    // Seed through one scheduler (not started), as a host would at deploy time.
    const seedClient = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    clients.push(seedClient);
    const seeder = createScheduler({ storage: new RedisStorage({ client: seedClient, prefix }), executor: () => undefined });
    const seedStart = Date.now();
    const ids = Array.from({ length: params.n }, (_, i) => `f${i}`);
    for (let i = 0; i < ids.length; i += 500) {
      await Promise.all(ids.slice(i, i + 500).map((id) => seeder.upsertFabric({ id, syncInterval: params.interval })));
    }
    const seedMs = Date.now() - seedStart;
    let synced = 0;
    let started = 0;
    const syncedIds = new Set<string>();
    for (let r = 0; r < params.replicas; r++) {
      const client = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      clients.push(client);
      const s = createScheduler({
        storage: new RedisStorage({ client, prefix }),
        singleFlight: new RedlockSingleFlight({ clients: [client], prefix }),
        executor: () => undefined,
      });
      s.on('sync:succeeded', (e) => {
        if (!syncedIds.has(e.fabricId)) {
          syncedIds.add(e.fabricId);
          synced++;
        }
      });
      s.on('sync:started', () => void started++);
      s.on('error', () => undefined);
      schedulers.push(s);
    }
    const startAt = Date.now();
    for (const s of schedulers) await s.start(); // one after the other, as replicas of a rolling deploy
    while (synced < params.n && Date.now() - startAt < FIRST_SYNCS_TIMEOUT) await new Promise((r) => setTimeout(r, 200));
    const firstSyncsMs = Date.now() - startAt;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await admin.config('RESETSTAT');
    const before = Number(parseInfo(await admin.info('stats')).get('total_commands_processed'));
    const startedBefore = started;
    const w0 = Date.now();
    await new Promise((r) => setTimeout(r, params.windowMs));
    const stats = parseInfo(await admin.info('stats'));
    const windowMs = Date.now() - w0;
    const runs = started - startedBefore;
    const commandstats = parseInfo(await admin.info('commandstats'));
    const perCommand: Record<string, number> = {};
    for (const [k, v] of commandstats) {
      const calls = /calls=(\d+)/.exec(v);
      if (k.startsWith('cmdstat_') && calls) perCommand[k.slice('cmdstat_'.length)] = Number(calls[1]);
    }
    // The worker's own INFO calls (one before the window is counted in it, after RESETSTAT).
    const commands = Number(stats.get('total_commands_processed')) - before - 1;
    const result = {
      n: params.n,
      replicas: params.replicas,
      interval: params.interval,
      windowMs,
      seedMs,
      firstSyncsMs,
      allSynced: synced >= params.n,
      commands,
      commandsPerSecond: Math.round((commands / windowMs) * 1000),
      runs,
      commandsPerRun: runs > 0 ? Math.round((commands / runs) * 10) / 10 : null,
      perCommand,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (out) writeFileSync(out, JSON.stringify(result, null, 2));
  } finally {
    await Promise.allSettled(schedulers.map((s) => s.stop({ inFlight: 'abort' })));
    for (const c of clients) c.disconnect();
    admin.disconnect();
    await redis.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
