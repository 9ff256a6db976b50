/**
 * CPU profile of the steady-state run path only: N in-memory fabrics at 1 s (every one due each
 * second), profiled over 4 s after a 2.5 s warm-up through node:inspector (setup, upserts and the
 * module loader stay out of it). Prints self and inclusive time per function, and writes the
 * profile to DIR: `node --import tsx benchmarks/tools/run-profile.ts N HISTORY DIR [host]`
 * (flags, comma-separated: `host`, one sync:succeeded listener attached, as benchmarks'
 * syncwheel-host; `spread`, every fabric on its own offset).
 */
import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createScheduler } from '../../src/index.js';
import { summarizeProfileDir } from '../lib/profile.js';

const n = Number(process.argv[2] ?? 10_000);
const historySize = Number(process.argv[3] ?? 20);
const dir = process.argv[4] ?? '/tmp/run-profile';
const flags = (process.argv[5] ?? '').split(',');
const host = flags.includes('host');
/** `spread`: each fabric on its own offset of the second (phase 'spread'), as the benchmarks' spread scenario. */
const phase = flags.includes('spread') ? ('spread' as const) : ('immediate' as const);
let runs = 0;
const s = createScheduler({ executor: () => void runs++, retry: false, maxConcurrentSyncs: Infinity, historySize });
if (host) s.on('sync:succeeded', () => undefined);
await s.upsertFabrics(Array.from({ length: n }, (_, i) => ({ id: String(i), syncInterval: 1000, phase })));
const keep = setInterval(() => {}, 1000);
await s.start();
await new Promise((r) => setTimeout(r, 2500));
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const r0 = runs;
const c0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, 4000));
const c = process.cpuUsage(c0);
const { profile } = await session.post('Profiler.stop');
const done = runs - r0;
await s.stop();
clearInterval(keep);
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'run.cpuprofile'), JSON.stringify(profile));
console.log(`n ${n}, history ${historySize}${host ? ', host' : ''}${phase === 'spread' ? ', spread' : ''}: ${done} runs, ${((c.user + c.system) / done).toFixed(2)} µs CPU per run (profiler on)`);
const sum = summarizeProfileDir(dir, 30, () => true)!;
console.log(`busy ${sum.busyMs} ms of ${sum.totalMs} ms; per run ${((sum.busyMs * 1000) / done).toFixed(2)} µs`);
console.log('| self ms | % busy | function |\n|---|---|---|');
for (const r of sum.self) console.log(`| ${r.ms} | ${r.pctOfBusy} | \`${r.fn}\` |`);
console.log('\n| incl ms | % busy | function |\n|---|---|---|');
for (const r of sum.inclusive) console.log(`| ${r.ms} | ${r.pctOfBusy} | \`${r.fn}\` |`);
