/**
 * Writes a heap snapshot of a scheduler holding N idle fabrics (1 h interval, each synced once):
 *
 *   node --expose-gc --import tsx benchmarks/tools/idle-snapshot.ts N out.heapsnapshot [bulk]
 *
 * Summarize it with heap-summary.ts (a second snapshot with N = 0 is the baseline to subtract).
 */
import { writeHeapSnapshot } from 'node:v8';
import { createScheduler } from '../../src/index.js';

const n = Number(process.argv[2] ?? 20_000);
const out = process.argv[3] ?? 'idle.heapsnapshot';
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const HOUR = 3_600_000;
let runs = 0;
const scheduler = createScheduler({ executor: () => void runs++, retry: false });
await scheduler.start();
for (let i = 0; i < n; i++) await scheduler.upsertFabric({ id: String(i), syncInterval: HOUR });
while (runs < n) await new Promise((r) => setTimeout(r, 50));
await new Promise((r) => setTimeout(r, 200));
gc();
gc();
writeHeapSnapshot(out);
console.log(`wrote ${out} (${n} idle fabrics, heapUsed ${process.memoryUsage().heapUsed})`);
await scheduler.stop();
