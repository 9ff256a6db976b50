/**
 * Bytes per scheduled fabric and setup throughput of the whole scheduler (MemoryStorage, wheel,
 * runtime state), vs one setTimeout per fabric and toad-scheduler. N fabrics at a 1 h interval are
 * added through the public API; each new fabric syncs once at once (a no-op executor), then idles
 * until its next slot. Retained heap is read after a full GC. Run with --expose-gc.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { SimpleIntervalJob, Task, ToadScheduler } from 'toad-scheduler';
import { createScheduler } from '../../src/index.js';
import { round, sleep } from '../lib/measure.js';

/** `historySize`: the scheduler's run history (default: the scheduler's default). */
const { n, historySize } = JSON.parse(process.argv[2]!) as { n: number; historySize?: number };
const out = process.argv[3]!;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const HOUR = 3_600_000;
function mem() {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external + m.arrayBuffers, rss: m.rss };
}

async function syncwheel() {
  let runs = 0;
  const scheduler = createScheduler({ executor: () => void runs++, retry: false, ...(historySize === undefined ? {} : { historySize }) });
  await scheduler.start();
  const m0 = mem();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  // one at a time, awaited: the way a host feeding definitions would do it
  for (let i = 0; i < n; i++) await scheduler.upsertFabric({ id: String(i), syncInterval: HOUR });
  const upsertMs = performance.now() - t0;
  const upsertCpu = process.cpuUsage(c0);
  while (runs < n) await sleep(50);
  await sleep(200);
  const m1 = mem();
  const r = {
    contender: 'syncwheel',
    n,
    ...(historySize === undefined ? {} : { historySize }),
    bytesPerFabric: round((m1.heap - m0.heap) / n, 0),
    rssPerFabric: round((m1.rss - m0.rss) / n, 0),
    upsertSequentialMs: round(upsertMs, 0),
    upsertsPerSec: Math.round(n / (upsertMs / 1000)),
    upsertCpuMs: round((upsertCpu.user + upsertCpu.system) / 1000, 0),
  };
  await scheduler.stop({ inFlight: 'abort' });
  // batch setup: the same N upserts issued without awaiting each one
  const s2 = createScheduler({ executor: () => undefined, retry: false });
  const t1 = performance.now();
  await Promise.all(Array.from({ length: n }, (_, i) => s2.upsertFabric({ id: String(i), syncInterval: HOUR })));
  const batchMs = performance.now() - t1;
  const t2 = performance.now();
  await s2.start();
  const startMs = performance.now() - t2;
  await s2.stop({ inFlight: 'abort' });
  // bulk: the same N definitions in one upsertFabrics call on a running scheduler (issue 11)
  const s3 = createScheduler({ executor: () => undefined, retry: false });
  await s3.start();
  const defs = Array.from({ length: n }, (_, i) => ({ id: String(i), syncInterval: HOUR }));
  const t3 = performance.now();
  const counts = await s3.upsertFabrics(defs);
  const bulkMs = performance.now() - t3;
  await s3.stop({ inFlight: 'abort' });
  if (counts.added !== n) throw new Error(`upsertFabrics added ${counts.added} of ${n}`);
  return { ...r, upsertBatchBeforeStartMs: round(batchMs, 0), startLoadMs: round(startMs, 0), upsertFabricsBulkMs: round(bulkMs, 0) };
}

async function timers() {
  const m0 = mem();
  const ts: NodeJS.Timeout[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) ts.push(setTimeout(() => {}, HOUR));
  const ms = performance.now() - t0;
  const m1 = mem();
  for (const t of ts) clearTimeout(t);
  return { contender: 'setTimeout', n, bytesPerFabric: round((m1.heap - m0.heap) / n, 0), rssPerFabric: round((m1.rss - m0.rss) / n, 0), upsertSequentialMs: round(ms, 0) };
}

async function toad() {
  const m0 = mem();
  const s = new ToadScheduler();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) s.addSimpleIntervalJob(new SimpleIntervalJob({ milliseconds: HOUR }, new Task(`t${i}`, () => {}), { id: `j${i}` }));
  const ms = performance.now() - t0;
  const m1 = mem();
  s.stop();
  return { contender: 'toad-scheduler', n, bytesPerFabric: round((m1.heap - m0.heap) / n, 0), rssPerFabric: round((m1.rss - m0.rss) / n, 0), upsertSequentialMs: round(ms, 0) };
}

async function main() {
  const which = process.env.FOOTPRINT_ONLY;
  const rows = [];
  // each measured after the previous one's garbage is collected
  if (!which || which === 'timers') rows.push(await timers());
  gc();
  if (!which || which === 'toad') rows.push(await toad());
  gc();
  if (!which || which === 'syncwheel') rows.push(await syncwheel());
  writeFileSync(out, JSON.stringify({ rows }));
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
