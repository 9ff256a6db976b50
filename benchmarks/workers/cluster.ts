/**
 * Scenario 5: R replicas (separate processes) share one Redis: RedisStorage + RedlockSingleFlight
 * with partitioning. The parent seeds N fabrics at `intervalMs` (upserted before any replica
 * starts, so each replica loads them at start), starts the replicas together, then merges their run
 * logs: lateness, fires kept, duplicates (a slot run twice across the fleet), Redis commands per
 * run (counted at each replica's ioredis client, heartbeats included) and CPU per replica.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { createScheduler } from '../../src/index.js';
import { RedisStorage } from '../../src/redis/index.js';
import { LatenessHistogram, round } from '../lib/measure.js';

const params = JSON.parse(process.argv[2]!) as { replicas: number; n: number; intervalMs: number; measureMs: number; tag: string };
const out = process.argv[3]!;
const here = dirname(fileURLToPath(import.meta.url));
const prefix = `swbench:${params.tag}`;
const HEARTBEAT = 1000;
const MEMBERSHIP_TTL = 3000;
const WARMUP = 5000;
const GRACE = 2000;

async function main() {
  const client = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });
  const storage = new RedisStorage({ client, prefix });
  const seeder = createScheduler({ storage, executor: () => undefined });
  for (let i = 0; i < params.n; i++) await seeder.upsertFabric({ id: `f${i}`, syncInterval: params.intervalMs });
  const t0 = Date.now();
  const W0 = t0 + WARMUP;
  const W1 = W0 + params.measureMs;
  const files: string[] = [];
  const children = Array.from({ length: params.replicas }, (_, r) => {
    const file = join(tmpdir(), `swbench-${params.tag}-r${r}.json`);
    files.push(file);
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'cluster-replica.ts'), JSON.stringify({ prefix, replica: `r${r}`, W0, W1, graceMs: GRACE, heartbeatInterval: HEARTBEAT, membershipTtl: MEMBERSHIP_TTL }), file], { stdio: ['ignore', 'inherit', 'inherit'] });
    return new Promise<number>((res) => child.on('exit', (code) => res(code ?? 1)));
  });
  const codes = await Promise.all(children);
  if (codes.some((c) => c !== 0)) throw new Error(`replica exit codes ${codes.join(',')}`);
  const reps = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as { replica: string; runs: Array<[string, number, number]>; commands: number; cpuMs: number; errors: number; skipped: number });
  for (const f of files) rmSync(f, { force: true });
  // anchors from the shared records
  const { records } = await storage.list();
  let expected = 0;
  for (const rec of records) {
    const a = rec.state.anchorAt ?? t0;
    const I = rec.definition.syncInterval;
    if (I === null) continue; // every fabric of this benchmark has an interval
    const first = Math.max(0, Math.ceil((W0 - a) / I));
    const end = Math.max(0, Math.ceil((W1 - a) / I));
    expected += Math.max(0, end - first);
  }
  const hist = new LatenessHistogram();
  const seen = new Map<string, number>();
  let duplicates = 0;
  let runsInWindow = 0;
  for (const r of reps) {
    for (const [id, slot, at] of r.runs) {
      if (slot < W0 || slot >= W1) continue;
      const key = `${id}@${slot}`;
      const k = (seen.get(key) ?? 0) + 1;
      seen.set(key, k);
      if (k > 1) {
        duplicates++;
        continue;
      }
      runsInWindow++;
      hist.add(at - slot);
    }
  }
  const commands = reps.reduce((a, r) => a + r.commands, 0);
  const seconds = params.measureMs / 1000;
  // clean up every key of this run
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await client.del(...keys);
  } while (cursor !== '0');
  await client.quit();
  const lat = hist.summary();
  writeFileSync(
    out,
    JSON.stringify({
      replicas: params.replicas,
      n: params.n,
      intervalMs: params.intervalMs,
      measureMs: params.measureMs,
      lateness: lat,
      kept: runsInWindow,
      expected,
      keptPct: expected ? round((100 * runsInWindow) / expected, 2) : null,
      duplicates,
      redisCommands: commands,
      redisCommandsPerRun: runsInWindow ? round(commands / runsInWindow, 1) : null,
      cpuPerReplicaMsPerSec: reps.map((r) => round(r.cpuMs / seconds, 0)),
      runsPerReplica: reps.map((r) => r.runs.filter(([, s]) => s >= W0 && s < W1).length),
      errors: reps.reduce((a, r) => a + r.errors, 0),
      skipped: reps.reduce((a, r) => a + r.skipped, 0),
      note: `Redis commands are counted at each replica's ioredis client over the window (lock, claim, record, heartbeats); heartbeat every ${HEARTBEAT} ms, membership TTL ${MEMBERSHIP_TTL} ms (shortened from the defaults so the fleet converges within the ${WARMUP / 1000} s warm-up). The Redis server's own CPU is not included.`,
    }),
  );
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
