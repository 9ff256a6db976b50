/**
 * CPU per run on a hand-driven clock: N in-memory fabrics at 1 s, time jumping from wake to wake,
 * so no real timer, no idle time and no other process's noise between runs (the figure for A/B
 * comparisons of the run path; the real-timer figure is run-cost.ts). Prints the best of
 * REPEATS windows of 20 virtual seconds after 5 of warm-up:
 * `node --import tsx benchmarks/tools/run-cost-manual.ts N HISTORY [REPEATS] [host,spread]`.
 */
import { createScheduler } from '../../src/index.js';
import { ManualClock } from '../lib/manual-clock.js';

const n = Number(process.argv[2] ?? 10_000);
const historySize = Number(process.argv[3] ?? 20);
const repeats = Number(process.argv[4] ?? 5);
const flags = (process.argv[5] ?? '').split(',');
const host = flags.includes('host');
/** `spread`: each fabric on its own offset of the second (phase 'spread'), as the benchmarks' spread scenario. */
const phase = flags.includes('spread') ? ('spread' as const) : ('immediate' as const);
// with a monotonic side, as the system clock has (the scheduler then reads it for its timers)
const clock = Object.assign(new ManualClock(), { monotonic: (): number => clock.t });
let runs = 0;
const s = createScheduler({ clock, executor: () => void runs++, retry: false, maxConcurrentSyncs: Infinity, historySize });
if (host) s.on('sync:succeeded', () => undefined);
await s.upsertFabrics(Array.from({ length: n }, (_, i) => ({ id: String(i), syncInterval: 1000, phase })));
await s.start();
await clock.advance(5_000);
const perRun: number[] = [];
for (let k = 0; k < repeats; k++) {
  const r0 = runs;
  const c0 = process.cpuUsage();
  await clock.advance(20_000);
  const c = process.cpuUsage(c0);
  perRun.push((c.user + c.system) / (runs - r0));
}
await s.stop();
const best = Math.min(...perRun);
console.log(`n ${n}, history ${historySize}${host ? ', host' : ''}${phase === 'spread' ? ', spread' : ''}: best ${best.toFixed(2)} µs CPU per run (windows: ${perRun.map((x) => x.toFixed(2)).join(', ')})`);
