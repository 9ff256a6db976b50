/** Times `upsertFabrics` of N definitions (running scheduler, or before start with `idle`): `node --import tsx benchmarks/tools/bulk-profile.ts N [idle]`. */
import { createScheduler } from '../../src/index.js';

const n = Number(process.argv[2] ?? 200_000);
const idle = process.argv[3] === 'idle';
let runs = 0;
const s = createScheduler({ executor: () => void runs++, retry: false });
if (!idle) await s.start();
const defs = Array.from({ length: n }, (_, i) => ({ id: String(i), syncInterval: 3_600_000 }));
const c0 = process.cpuUsage();
const t0 = performance.now();
const counts = await s.upsertFabrics(defs);
const t1 = performance.now();
const cpu = process.cpuUsage(c0);
// CPU time beside wall time: on a shared machine the wall time measures the neighbours too.
console.log(`upsertFabrics(${n}) ${idle ? 'before start' : 'running'}: ${Math.round(t1 - t0)} ms wall, ${Math.round((cpu.user + cpu.system) / 1000)} ms CPU`, counts, `runs so far ${runs}`);
if (idle) {
  const t2 = performance.now();
  await s.start();
  console.log(`start(): ${Math.round(performance.now() - t2)} ms`);
}
await s.stop({ inFlight: 'abort' });
