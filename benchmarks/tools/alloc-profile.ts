/**
 * Allocation per run by function (V8 sampling heap profiler), on a hand-driven clock: N = 10,000
 * in-memory fabrics at 1 s over 10 virtual seconds after 5 of warm-up:
 * `node --import tsx benchmarks/tools/alloc-profile.ts HISTORY [host]`. Allocations of inlined
 * functions count for their caller.
 */
import { Session } from 'node:inspector/promises';
import { createScheduler } from '../../src/index.js';
import { ManualClock } from '../lib/manual-clock.js';
const n = 10000;
// with a monotonic side, as the system clock has (the scheduler then reads it for its timers)
const clock = Object.assign(new ManualClock(), { monotonic: (): number => clock.t });
let runs = 0;
const s = createScheduler({ clock, executor: () => void runs++, retry: false, maxConcurrentSyncs: Infinity, historySize: Number(process.argv[2] ?? 20) });
if (process.argv[3] === 'host') s.on('sync:succeeded', () => undefined);
await s.upsertFabrics(Array.from({ length: n }, (_, i) => ({ id: String(i), syncInterval: 1000 })));
await s.start();
await clock.advance(5000);
const session = new Session(); session.connect();
await session.post('HeapProfiler.enable');
await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as any);
const r0 = runs;
await clock.advance(10000);
const { profile } = await session.post('HeapProfiler.stopSampling');
const done = runs - r0;
const self = new Map<string, number>();
const walk = (node: any) => { const f = node.callFrame; const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`; const b = node.selfSize; if (b) self.set(k, (self.get(k) ?? 0) + b); for (const c of node.children) walk(c); };
walk(profile.head);
let total = 0; for (const v of self.values()) total += v;
console.log(`${done} runs; sampled allocation ${(total / done).toFixed(0)} B per run`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`${(v / done).toFixed(1).padStart(7)} B/run  ${k}`);
await s.stop();
