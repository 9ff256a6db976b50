/**
 * What MemoryStorage costs per record, and what a run's outcome write costs, before and after the
 * column layout (issue 11: records as columns updated in place, snapshots not kept):
 *
 *   node --expose-gc --import tsx benchmarks/tools/memory-storage-cost.ts [n] [old-ref] [passes]
 *
 * For the MemoryStorage of `old-ref` (default e0be2bd, the commit before the columns; its
 * memory.ts is taken with `git show` and run against this tree's other modules) and of this tree,
 * each in a child process of its own:
 * 1. writes `n` records (default 1,000,000; ids f0.., `normalizeFabric({ id, syncInterval: 60000 })`,
 *    an in_sync state with epoch-ms timestamps ~1.8e12 and a fencing token ~1.8e15), forces GC and
 *    reports the heap per record (V8 heap plus ArrayBuffers: typed-array columns live outside it);
 * 2. rewrites every record `passes` times more (default once) with new timestamps at the version
 *    read (as a run's outcome write does) and reports the time per write, the old-space growth
 *    meanwhile (peak, sampled every 10,000 writes), the GCs V8 ran, and the heap after a forced GC;
 * 3. times one `list()` of everything and `get()` per record.
 * Throwaway tool: run it on a quiet machine, twice, and compare ratios.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { normalizeFabric, type Fabric } from '../../src/definition.js';
import { makeState, type Storage, type WriteResult } from '../../src/storage/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const variantArg = process.argv.indexOf('--variant');
const args = process.argv.slice(2).filter((a, i, all) => a !== '--variant' && all[i - 1] !== '--variant');
const n = Number(args[0] ?? 1_000_000);
const oldRef = args[1] ?? 'e0be2bd';
const passes = Number(args[2] ?? 1);

if (variantArg < 0) {
  for (const variant of ['old', 'new']) {
    console.log(`\n== ${variant === 'old' ? `MemoryStorage at ${oldRef}` : 'MemoryStorage of this tree (columns)'}, n = ${n.toLocaleString('en')}`);
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--variant', variant, String(n), oldRef, String(passes)], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}

const variant = process.argv[variantArg + 1];
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

/** The MemoryStorage class of the variant (the old one from git, importing this tree's modules). */
async function loadStorage(): Promise<new () => Storage & { size: number }> {
  if (variant === 'new') return (await import('../../src/storage/memory.js')).MemoryStorage;
  const source = execFileSync('git', ['show', `${oldRef}:src/storage/memory.ts`], { cwd: root, encoding: 'utf8' });
  // An .mts file, so it loads as ESM: a .ts file outside the package loads as CommonJS, with a
  // second copy of definition.ts whose `isNormalizedFabric` knows none of the definitions made here.
  const dir = mkdtempSync(join(tmpdir(), 'memory-old-'));
  const src = relative(dir, join(root, 'src')).split(sep).join('/');
  const rewritten = source.replace(/from '\.\.\//g, `from '${src}/`).replace(/from '\.\//g, `from '${src}/storage/`);
  const file = join(dir, 'memory.mts');
  writeFileSync(file, rewritten);
  const Old = (await import(pathToFileURL(file).href)).MemoryStorage as new () => Storage & { size: number };
  rmSync(dir, { recursive: true, force: true });
  const probe = normalizeFabric({ id: 'probe', syncInterval: 60_000 }, { syncTimeout: 0 });
  const written = new Old().write('probe', { definition: probe, state: makeState('never_synced', null, null, null, 0, null, null, null, 0) }, null) as WriteResult;
  if (!written.ok || written.record.definition !== probe) throw new Error('the old MemoryStorage loaded a second copy of definition.ts');
  return Old;
}

const MB = 2 ** 20;
const T = 1.8e12;
const TOKEN = 1.8e15;
const mem = (): { heap: number; ab: number; old: number } => {
  const m = process.memoryUsage();
  const old = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
  return { heap: m.heapUsed, ab: m.arrayBuffers, old };
};
const settle = (): ReturnType<typeof mem> => {
  gc();
  gc();
  return mem();
};
/** Kept so no answer can be optimized away. */
let sink: WriteResult | undefined;

const MemoryStorage = await loadStorage();
const h0 = settle();
const defs: Fabric[] = [];
for (let i = 0; i < n; i++) defs.push(normalizeFabric({ id: `f${i}`, syncInterval: 60_000 }, { syncTimeout: 0 }));
const h1 = settle();
console.log(`definitions: ${((h1.heap - h0.heap) / n).toFixed(0)} B each (kept by the caller here; not counted below)`);

// 1. Create every record.
const storage = new MemoryStorage();
let t = performance.now();
for (let i = 0; i < n; i++) {
  const slot = T + i;
  sink = storage.write(defs[i]!.id, { definition: defs[i]!, state: makeState('in_sync', slot + 120, slot + 3, null, 0, T - 3_600_000, slot, slot + 60_000, TOKEN + i) }, null) as WriteResult;
}
const createUs = ((performance.now() - t) * 1000) / n;
const h2 = settle();
const perRecord = (h2.heap - h1.heap + h2.ab - h1.ab) / n;
console.log(`1. create: ${createUs.toFixed(3)} µs/write; after GC: heapUsed ${(h2.heap / MB).toFixed(0)} MB, arrayBuffers ${(h2.ab / MB).toFixed(0)} MB; storage ${perRecord.toFixed(0)} B/record (heap ${((h2.heap - h1.heap) / n).toFixed(0)} + arrayBuffers ${((h2.ab - h1.ab) / n).toFixed(0)})`);

// 2. Rewrite every record once (a run's outcome write: expectedVersion = the version read).
const gcs = { major: 0, majorMs: 0, minor: 0, minorMs: 0 };
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      gcs.major++;
      gcs.majorMs += e.duration;
    } else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      gcs.minor++;
      gcs.minorMs += e.duration;
    }
  }
});
obs.observe({ entryTypes: ['gc'] });
let peakOld = h2.old;
let refused = 0;
t = performance.now();
for (let p = 1; p <= passes; p++) {
  for (let i = 0; i < n; i++) {
    const slot = T + 60_000 * p + i;
    const r = storage.write(defs[i]!.id, { definition: defs[i]!, state: makeState('in_sync', slot + 150, slot + 2, null, 0, T - 3_600_000, slot, slot + 60_000, TOKEN + i + p) }, p) as WriteResult;
    if (!r.ok) refused++;
    sink = r;
    if (i % 10_000 === 9_999) peakOld = Math.max(peakOld, mem().old);
  }
}
const rewriteUs = ((performance.now() - t) * 1000) / (n * passes);
const h3 = mem();
// GC entries reach the observer asynchronously.
await new Promise((r) => setTimeout(r, 200));
obs.disconnect();
const h4 = settle();
console.log(`2. rewrite (${passes} pass${passes === 1 ? '' : 'es'}): ${rewriteUs.toFixed(3)} µs/write (${refused} refused); old space ${(h2.old / MB).toFixed(0)} MB before, peak ${(peakOld / MB).toFixed(0)} MB (+${((peakOld - h2.old) / MB).toFixed(0)} MB), ${(h3.old / MB).toFixed(0)} MB at the end; GCs during the pass: ${gcs.major} major (${gcs.majorMs.toFixed(0)} ms), ${gcs.minor} minor (${gcs.minorMs.toFixed(0)} ms); after GC: heapUsed ${(h4.heap / MB).toFixed(0)} MB, arrayBuffers ${(h4.ab / MB).toFixed(0)} MB, rss ${(process.memoryUsage().rss / MB).toFixed(0)} MB`);

// 3. Reads.
t = performance.now();
const { records } = await storage.list();
const listMs = performance.now() - t;
const h5 = mem();
t = performance.now();
for (let i = 0; i < n; i++) await storage.get(defs[i]!.id);
const getUs = ((performance.now() - t) * 1000) / n;
console.log(`3. list(): ${listMs.toFixed(0)} ms for ${records.length.toLocaleString('en')} records (heapUsed +${((h5.heap - h4.heap) / MB).toFixed(0)} MB while held); get(): ${getUs.toFixed(3)} µs each (awaited)`);
console.log(`rss ${(process.memoryUsage().rss / MB).toFixed(0)} MB at the end${sink === undefined ? '' : ''}`);
