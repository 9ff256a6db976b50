/**
 * What one `scheduler.metrics()` call costs with N idle in-memory fabrics (1 h interval, each
 * synced once), and one OpenTelemetry collection of the scheduler's gauges (SDK MeterProvider with
 * a reader; `collect()` reads every observable gauge once). Wall time per call, on the real clock:
 *
 *   node --expose-gc --import tsx benchmarks/tools/metrics-cost.ts [N] [calls]
 *
 * Prints the median, p90 and max of `calls` calls (default 200) after 20 warm-up calls, for each.
 * Public API only, so the same file measures any commit.
 */
import { performance } from 'node:perf_hooks';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { createScheduler, type FabricDefinition } from '../../src/index.js';

const n = Number(process.argv[2] ?? 100_000);
const calls = Number(process.argv[3] ?? 200);
const HOUR = 3_600_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
let runs = 0;
const scheduler = createScheduler({ executor: () => void runs++, retry: false, meterProvider });
const t0 = performance.now();
for (let from = 0; from < n; from += 100_000) {
  const batch: FabricDefinition[] = [];
  for (let i = from; i < Math.min(n, from + 100_000); i++) batch.push({ id: `f${i}`, syncInterval: HOUR });
  await scheduler.upsertFabrics(batch);
}
await scheduler.start();
while (runs < n) await new Promise((r) => setTimeout(r, 50));
// Let the last outcomes land and a freshness sweep pass complete (5 s period with MemoryStorage).
await new Promise((r) => setTimeout(r, 6_000));
const setupS = (performance.now() - t0) / 1000;
gc();

async function time(label: string, call: () => unknown): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < 20 + calls; i++) {
    const a = performance.now();
    await call();
    if (i >= 20) ms.push(performance.now() - a);
    // Between calls the loop turns, as between a host's reads (the wheel, the sweep go on).
    if (i % 10 === 9) await new Promise((r) => setImmediate(r));
  }
  ms.sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!;
  console.log(`${label}: median ${q(0.5).toFixed(4)} ms, p90 ${q(0.9).toFixed(4)} ms, max ${ms[ms.length - 1]!.toFixed(4)} ms (${calls} calls)`);
}

const m = scheduler.metrics();
console.log(`${n} idle fabrics (setup ${setupS.toFixed(1)} s, ${runs} runs; fabrics ${JSON.stringify(m.fabrics)}, stale ${m.stale}, maxStalenessMs ${m.maxStalenessMs}); rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);
await time('metrics()', () => scheduler.metrics());
await time('OpenTelemetry collect()', () => reader.collect());
await scheduler.stop();
await meterProvider.shutdown();
process.exit(0);
