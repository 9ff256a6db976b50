/**
 * Three replicas of a service, each embedding syncwheel, against the local Redis: which replica
 * ran what, and proof that no slot ran twice. Run it with `npm run demo:replicas`
 * (needs Redis on 127.0.0.1:6379, or REDIS_URL).
 *
 * Expected output (times, tokens and the split vary):
 *
 *   syncwheel demo: 3 replicas, 12 fabrics every 1 s, 15 s, prefix demo:replicas:1a2b3c
 *   [00.012] r1 ran fab-00 (slot +0 ms late, token 1)
 *   [00.214] r2 ran fab-04 (slot +2 ms late, token 1)
 *   …
 *   r3: a stale write to fab-05 with token 3 was refused (the datastore has token 11)
 *   …
 *   summary: 180 runs; per replica r1=64 r2=58 r3=58; duplicate (fabric, slot) runs: 0;
 *            overlapping runs: 0; stale writes refused: 1
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { keyPatterns } from '../src/redis/index.js';

const DURATION = Number(process.env['DURATION_MS'] ?? 15_000);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = `demo:replicas:${randomBytes(3).toString('hex')}`;
const worker = fileURLToPath(new URL('./replica-worker.ts', import.meta.url));

interface Line {
  type: string;
  replica: string;
  fabricId?: string;
  scheduledAt?: number;
  token?: number;
  at?: number;
  [k: string]: unknown;
}

console.log(`syncwheel demo: 3 replicas, 12 fabrics every 1 s, ${DURATION / 1000} s, prefix ${prefix}`);
const lines: Line[] = [];
let t0 = 0;
const stamp = (at: number) => `[${((at - t0) / 1000).toFixed(3).padStart(6, '0')}]`;
const children = ['r1', 'r2', 'r3'].map((name) => {
  const child = spawn(process.execPath, ['--import', 'tsx', worker], {
    env: { ...process.env, REPLICA: name, PREFIX: prefix, REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = JSON.parse(buf.slice(0, nl)) as Line;
      buf = buf.slice(nl + 1);
      lines.push(line);
      if (t0 === 0 && line.at) t0 = line.at;
      if (line.type === 'start') console.log(`${stamp(line.at!)} ${line.replica} ran ${line.fabricId} (slot +${line.at! - line.scheduledAt!} ms late, token ${line.token})`);
      if (line.type === 'stale-write') console.log(`${line.replica}: a stale write to ${line.fabricId} with token ${line.token} was ${line['refused'] ? 'refused' : 'ACCEPTED'} (the datastore has token ${line['stored']})`);
      if (line.type === 'error') console.log(`${line.replica}: error event (${line['operation']}): ${line['message']}`);
    }
  });
  return { name, child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
});

await new Promise((r) => setTimeout(r, DURATION));
for (const c of children) c.child.kill('SIGTERM');
await Promise.all(children.map((c) => c.exited));

const starts = lines.filter((l) => l.type === 'start');
const ends = new Map(lines.filter((l) => l.type === 'end').map((l) => [`${l.fabricId}|${l.token}`, l.at!]));
const slots = new Map<string, number>();
for (const s of starts) slots.set(`${s.fabricId}@${s.scheduledAt}`, (slots.get(`${s.fabricId}@${s.scheduledAt}`) ?? 0) + 1);
const duplicates = [...slots.values()].filter((n) => n > 1).length;
let overlaps = 0;
const byFabric = new Map<string, Line[]>();
for (const s of starts) byFabric.set(s.fabricId!, [...(byFabric.get(s.fabricId!) ?? []), s]);
for (const runs of byFabric.values()) {
  for (let i = 1; i < runs.length; i++) {
    const prevEnd = ends.get(`${runs[i - 1]!.fabricId}|${runs[i - 1]!.token}`) ?? Number.POSITIVE_INFINITY;
    if (runs[i]!.at! < prevEnd || runs[i]!.token! <= runs[i - 1]!.token!) overlaps++;
  }
}
const per = ['r1', 'r2', 'r3'].map((n) => `${n}=${starts.filter((s) => s.replica === n).length}`).join(' ');
const refused = lines.filter((l) => l.type === 'stale-write' && l['refused']).length;
console.log(`summary: ${starts.length} runs; per replica ${per}; duplicate (fabric, slot) runs: ${duplicates};`);
console.log(`         overlapping runs: ${overlaps}; stale writes refused: ${refused}`);

const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
for (const pattern of [...keyPatterns(prefix), `${prefix}:hostdata:*`]) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}
await redis.quit();
process.exit(duplicates === 0 && overlaps === 0 && starts.length > 0 ? 0 : 1);
