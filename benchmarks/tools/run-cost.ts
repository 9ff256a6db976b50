/**
 * CPU per run of N in-memory fabrics at 1 s (every one due each second), measured over 5 s after a
 * 2.5 s warm-up, with `historySize` as given: `node --import tsx benchmarks/tools/run-cost.ts N HISTORY [spread]`.
 */
import { createScheduler } from '../../src/index.js';
const n = Number(process.argv[2] ?? 10_000);
const historySize = Number(process.argv[3] ?? 20);
/** `spread`: each fabric on its own offset of the second (phase 'spread'). */
const phase = process.argv[4] === 'spread' ? ('spread' as const) : ('immediate' as const);
let runs = 0;
const s = createScheduler({ executor: () => void runs++, retry: false, maxConcurrentSyncs: Infinity, historySize });
await s.upsertFabrics(Array.from({ length: n }, (_, i) => ({ id: String(i), syncInterval: 1000, phase })));
const keep = setInterval(() => {}, 1000);
await s.start();
await new Promise((r) => setTimeout(r, 2500));
const r0 = runs; const c0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, 5000));
const c = process.cpuUsage(c0); const done = runs - r0;
console.log(`n ${n}, history ${historySize}${phase === 'spread' ? ', spread' : ''}: ${done} runs, ${((c.user + c.system) / done).toFixed(2)} µs CPU per run`);
await s.stop(); clearInterval(keep);
