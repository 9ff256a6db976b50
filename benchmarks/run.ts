/**
 * `npm run bench` — runs every benchmark scenario, each run in its own child process (fresh heap),
 * one after the other (never in parallel: they would measure each other), prints progress, and
 * writes docs/benchmarks/results.json, docs/benchmarks/README.md and the SVG charts.
 *
 *   npm run bench                 full pass (~20 min on 2 cores)
 *   npm run bench -- --quick      short pass (< 3 min), written to docs/benchmarks/quick/
 *   npm run bench -- --report-only   re-render README.md and charts from the last results.json
 *   npm run bench -- --only=h2h   only scenarios whose id starts with one of the given prefixes,
 *                                 merged into the last results.json (their earlier runs replaced)
 *                                 (h2h, load, micro, scale, cluster, redis, failover; comma separated)
 *   npm run bench -- --hot        issue 11's targets only (10k @1 s same-ms and spread: syncwheel
 *                                 bare and as a host runs it, the setTimeout floor, toad-scheduler;
 *                                 with --100k also 100k spread), written to docs/benchmarks/hot/
 *                                 with a ratio table (hot.md); --window=ms sets the window
 *                                 (default 10 s), --repeat=k runs the set k times, interleaved
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { ContenderName } from './lib/contenders.js';
import type { LatenessParams } from './workers/lateness.js';
import type { FailoverParams } from './workers/failover.js';
import { writeReport } from './report.js';
import { summarizeProfileDir } from './lib/profile.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const hot = args.includes('--hot');
const hotWindow = Number(args.find((a) => a.startsWith('--window='))?.slice('--window='.length) ?? 10_000);
const hotRepeat = Number(args.find((a) => a.startsWith('--repeat='))?.slice('--repeat='.length) ?? 1);
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const outDir = join(root, 'docs', 'benchmarks', hot ? 'hot' : quick ? 'quick' : '');
const rawDir = join(outDir, 'raw');
if (!args.includes('--report-only')) rmSync(rawDir, { recursive: true, force: true });
mkdirSync(rawDir, { recursive: true });

export interface RunSpec {
  id: string;
  group: 'h2h' | 'load' | 'micro' | 'scale' | 'cluster' | 'redis' | 'failover';
  worker: string;
  params: Record<string, unknown>;
  /** Hard limit; the run is killed and reported as failed past it. */
  timeoutMs: number;
  nodeArgs?: string[];
}

const tag = randomBytes(4).toString('hex');
const specs: RunSpec[] = [];

function lateness(group: RunSpec['group'], contender: ContenderName, n: number, intervalMs: number, loadPct: number, stagger: 'spread' | 'aligned', measureMs: number, opts: { slackMs?: number; timeoutMs?: number } = {}): void {
  const p: LatenessParams = { contender, n, intervalMs, loadPct, stagger, measureMs, graceMs: 2000, tag: `${tag}-${specs.length}`, ...(opts.slackMs ? { slackMs: opts.slackMs } : {}) };
  const id = `${group}/${contender}/n${n}/i${intervalMs}/load${loadPct}/${stagger}`;
  // A run that cannot keep up falls further behind the longer it runs: it is stopped at this limit
  // and reported as "did not finish" with what /proc saw (peak RSS, CPU).
  const expected = 4000 + (opts.slackMs ?? 1500) + intervalMs + measureMs + 2000;
  specs.push({ id, group, worker: 'workers/lateness.ts', params: p as unknown as Record<string, unknown>, timeoutMs: opts.timeoutMs ?? Math.max(45_000, 2 * expected) });
}

/** BullMQ runs through Redis round trips; it is capped at this many jobs (as in the issue's table). */
export const BULLMQ_CAP = 1000;

if (hot) {
  // issue 11: each contender in its own process, one after the other, the set repeated (interleaved)
  for (let r = 0; r < hotRepeat; r++) {
    for (const stagger of ['aligned', 'spread'] as const) {
      for (const c of ['syncwheel', 'syncwheel-host', 'setTimeout', 'toad-scheduler'] as const) lateness('h2h', c, 10_000, 1000, 0, stagger, hotWindow);
    }
    if (args.includes('--100k')) for (const c of ['syncwheel', 'syncwheel-host', 'setTimeout', 'toad-scheduler'] as const) lateness('load', c, 100_000, 1000, 0, 'spread', hotWindow, { slackMs: 4000, timeoutMs: 120_000 });
  }
  for (const s of specs) s.id += specs.filter((o) => o.id === s.id).length > 1 ? `#${specs.indexOf(s)}` : '';
} else if (quick) {
  const m = 3000;
  for (const c of ['syncwheel', 'setTimeout', 'toad-scheduler', 'croner'] as const) lateness('h2h', c, 10_000, 1000, 0, 'aligned', m);
  // node-cron starves the process's timers for tens of seconds at 10k jobs: capped in the quick pass
  lateness('h2h', 'node-cron', 2000, 1000, 0, 'aligned', m);
  lateness('h2h', 'bullmq', BULLMQ_CAP, 1000, 0, 'aligned', m);
  for (const c of ['syncwheel', 'setTimeout'] as const) lateness('h2h', c, 10_000, 1000, 0, 'spread', m);
  specs.push({ id: 'micro/wheel', group: 'micro', worker: 'workers/micro.ts', params: { sizes: [1e3, 1e4, 1e5] }, timeoutMs: 120_000, nodeArgs: ['--expose-gc'] });
  specs.push({ id: 'micro/footprint', group: 'micro', worker: 'workers/footprint.ts', params: { n: 20_000 }, timeoutMs: 120_000, nodeArgs: ['--expose-gc'] });
  lateness('scale', 'syncwheel-restore', 50_000, 10_000, 0, 'spread', 3000, { slackMs: 3000, timeoutMs: 60_000 });
} else {
  const m = 20_000;
  // 1+2. head to head at 10k fabrics, 1 s: the same burst for every contender ('aligned'), and
  //      first fires spread over the interval for the contenders that can express it ('spread').
  for (const load of [0, 25]) {
    const w = load === 0 ? m : 10_000;
    for (const c of ['syncwheel', 'setTimeout', 'toad-scheduler', 'croner'] as const) lateness('h2h', c, 10_000, 1000, load, 'aligned', w);
    // node-cron starves the process's own timers for tens of seconds at 10k jobs: give it room
    lateness('h2h', 'node-cron', 10_000, 1000, load, 'aligned', w, { timeoutMs: 180_000 });
    lateness('h2h', 'bullmq', BULLMQ_CAP, 1000, load, 'aligned', w);
    for (const c of ['syncwheel', 'setTimeout', ...(load === 0 ? (['toad-scheduler'] as const) : [])] as const) lateness('h2h', c, 10_000, 1000, load, 'spread', w);
  }
  // 1. syncwheel under load: 1k / 10k / 100k fabrics, 1 s and 10 s, 0 % and 25 % load (10k at 1 s is in h2h)
  for (const n of [1000, 10_000, 100_000]) {
    for (const interval of [1000, 10_000]) {
      for (const load of [0, 25]) {
        if (n === 10_000 && interval === 1000) continue;
        lateness('load', 'syncwheel', n, interval, load, 'spread', interval === 1000 ? 10_000 : 20_000, n === 100_000 ? { timeoutMs: interval === 1000 ? 90_000 : 150_000 } : {});
      }
    }
  }
  // CPU and memory vs number of fabrics, for the cheap peers (10k is in h2h)
  for (const n of [1000, 100_000]) for (const c of ['setTimeout', 'toad-scheduler'] as const) lateness('load', c, n, 1000, 0, 'spread', 10_000);
  // 3. timing-wheel microbenchmarks and bytes per fabric
  specs.push({ id: 'micro/wheel', group: 'micro', worker: 'workers/micro.ts', params: { sizes: [1e3, 1e4, 1e5, 1e6] }, timeoutMs: 600_000, nodeArgs: ['--expose-gc'] });
  specs.push({ id: 'micro/footprint', group: 'micro', worker: 'workers/footprint.ts', params: { n: 200_000 }, timeoutMs: 300_000, nodeArgs: ['--expose-gc'] });
  // 4. scale: 1,000,000 fabrics at 60 s in one process
  lateness('scale', 'syncwheel-restore', 1_000_000, 60_000, 0, 'spread', 30_000, { slackMs: 20_000, timeoutMs: 360_000 });
}
// profile of syncwheel in the head-to-head workload (10k fabrics, 1 s, aligned): where its CPU goes
if (!hot) {
  const p: LatenessParams = { contender: 'syncwheel', n: 10_000, intervalMs: 1000, loadPct: 0, stagger: 'aligned', measureMs: quick ? 3000 : 10_000, graceMs: 1000, tag: `${tag}-prof` };
  specs.push({ id: 'profile/syncwheel/n10000/i1000/aligned', group: 'h2h', worker: 'workers/lateness.ts', params: p as unknown as Record<string, unknown>, timeoutMs: 120_000, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(rawDir, 'profile')}`] });
}
// 5. cluster (Redis): added when syncwheel/redis is available
const clusterWorker = join(here, 'workers', 'cluster.ts');
if (existsSync(clusterWorker) && !hot) {
  for (const replicas of quick ? [2] : [1, 2, 4]) {
    specs.push({ id: `cluster/r${replicas}`, group: 'cluster', worker: 'workers/cluster.ts', params: { replicas, n: 1000, intervalMs: 1000, measureMs: quick ? 3000 : 15_000, tag: `${tag}-c${replicas}` }, timeoutMs: 180_000 });
  }
}

// 6. Redis idle cost (issue 10): fabrics at PT1H on two replicas, nothing due, commands Redis counts in 15 s
specs.push({ id: 'redis/idle', group: 'redis', worker: 'workers/idle-cost.ts', params: { n: quick ? 2_000 : 20_000, replicas: 2, windowMs: 15_000, tag: `${tag}-idle` }, timeoutMs: 600_000 });
// 7. Redis commands per run (issue 10): 200 fabrics at 1 s, runs shorter than a lock extension, 1..3 replicas
for (const replicas of quick ? [1, 3] : [1, 2, 3]) {
  specs.push({ id: `redis/run-cost/r${replicas}`, group: 'redis', worker: 'workers/idle-cost.ts', params: { n: 200, replicas, interval: 1000, windowMs: 10_000, tag: `${tag}-rc${replicas}` }, timeoutMs: 120_000 });
}
// 7. Redis failover (issue 10; its own group: the report's 'redis' table is the idle cost): kill -> next run on a survivor, and Redis commands per run with 1, 2, 3 replicas
{
  const p: FailoverParams = { fabrics: 60, intervalMs: 1000, windowMs: quick ? 4000 : 10_000, rounds: quick ? 2 : 5, tag: `${tag}-fo` };
  specs.push({ id: 'failover/r3', group: 'failover', worker: 'workers/failover.ts', params: p as unknown as Record<string, unknown>, timeoutMs: quick ? 180_000 : 420_000 });
}

const selected = only ? specs.filter((s) => only.some((o) => s.id.startsWith(o))) : specs;

/** Peak RSS and CPU of a process from /proc (Linux), taken just before a run is stopped for taking too long. */
function procStats(pid: number | undefined): Record<string, number> | undefined {
  if (!pid) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const ticks = Number(stat[11]) + Number(stat[12]);
    return { peakRssMB: Math.round(kb('VmHWM') / 1024), rssMB: Math.round(kb('VmRSS') / 1024), cpuMs: Math.round((ticks * 1000) / 100) };
  } catch {
    return undefined;
  }
}

function runChild(spec: RunSpec, outFile: string): Promise<{ ok: boolean; ms: number; log: string; killed?: Record<string, number> }> {
  return new Promise((resolveRun) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), '--import', 'tsx', join(here, spec.worker), JSON.stringify(spec.params), outFile], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    const keep = (d: Buffer) => {
      log += d.toString();
      if (log.length > 20_000) log = log.slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let killed: Record<string, number> | undefined;
    const timer = setTimeout(() => {
      killed = procStats(child.pid);
      child.kill('SIGKILL');
    }, spec.timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ ok: code === 0 && existsSync(outFile), ms: Date.now() - t0, log, ...(killed ? { killed } : {}) });
    });
  });
}

function line(spec: RunSpec, r: Record<string, any>): string {
  if (spec.worker === 'workers/lateness.ts') {
    const l = r.lateness;
    return `p50 ${l.p50} / p99 ${l.p99} / max ${l.max} ms, kept ${r.fires.keptPct}%, cpu ${r.cpu.perSecondMs} ms/s, rss ${r.memory.maxRssLifetimeMB} MB`;
  }
  if (spec.group === 'failover') {
    const f = (r.failover ?? []).map((x: Record<string, any>) => `${x.scenario}: p50 ${x.p50Ms} / max ${x.maxMs} ms`).join('; ');
    return `failover ${f}; redis cmds/run ${(r.commandsPerRun ?? []).map((x: Record<string, any>) => x.commandsPerRun).join(' / ')} (1 / 2 / 3 replicas)`;
  }
  if (spec.group === 'cluster') return `p99 ${r.lateness?.p99} ms, duplicates ${r.duplicates}, redis cmds/run ${r.redisCommandsPerRun}`;
  if (spec.group === 'redis') return `${r.commands} Redis commands in ${r.windowMs} ms (${r.n} fabrics, ${r.replicas} replicas${r.runs ? `, ${r.commandsPerRun} per run` : ''})`;
  return 'done';
}

/** The commit measured (SWBENCH_COMMIT when run from an exported snapshot), '+dirty' when src/ has local changes. */
function gitCommit(): string {
  if (process.env['SWBENCH_COMMIT']) return process.env['SWBENCH_COMMIT'];
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

async function main() {
  if (args.includes('--report-only')) {
    // re-render README.md and the charts from the last run's results.json (no new measurement)
    const doc = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8'));
    if (hot) return void console.log(hotTable(doc.runs));
    for (const r of doc.runs) if (r.ok && r.spec.id.startsWith('profile/') && !r.result.profile) r.result.profile = summarizeProfileDir(join(rawDir, 'profile'));
    writeReport(doc, outDir);
    console.log(`re-rendered ${join(outDir, 'README.md')} from results.json of ${doc.startedAt}`);
    return;
  }
  const started = new Date();
  console.log(`syncwheel benchmarks (${quick ? 'quick' : 'full'}): ${selected.length} runs, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GB`);
  const results: Array<{ spec: RunSpec; ok: boolean; ms: number; result?: unknown; error?: string; killed?: Record<string, number> }> = [];
  for (const [k, spec] of selected.entries()) {
    const outFile = join(rawDir, spec.id.replace(/\//g, '_') + '.json');
    process.stdout.write(`[${k + 1}/${selected.length}] ${spec.id} … `);
    const r = await runChild(spec, outFile);
    if (r.ok) {
      const result = JSON.parse(readFileSync(outFile, 'utf8'));
      if (spec.id.startsWith('profile/')) result.profile = summarizeProfileDir(join(rawDir, 'profile'));
      results.push({ spec, ok: true, ms: r.ms, result });
      console.log(`${line(spec, result)} (${(r.ms / 1000).toFixed(0)} s)`);
    } else {
      results.push({ spec, ok: false, ms: r.ms, error: r.log.slice(-2000), ...(r.killed ? { killed: r.killed } : {}) });
      if (r.killed) console.log(`DID NOT FINISH: stopped after ${(r.ms / 1000).toFixed(0)} s (peak RSS ${r.killed['peakRssMB']} MB, CPU ${r.killed['cpuMs']} ms)`);
      else console.log(`FAILED after ${(r.ms / 1000).toFixed(0)} s\n${r.log.slice(-600)}`);
    }
  }
  // With --only, the runs measured now replace theirs in the last results.json; the others are kept.
  const previous = only && existsSync(join(outDir, 'results.json')) ? (JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as { runs?: typeof results }) : undefined;
  const measured = new Set(results.map((r) => r.spec.id));
  const kept = (previous?.runs ?? []).filter((r) => !measured.has(r.spec.id));
  const doc = {
    command: `npm run bench${quick ? ' -- --quick' : ''}${only ? ` -- --only=${only.join(',')} (merged into the previous results)` : ''}`,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    commit: gitCommit(),
    machine: { node: process.version, platform: `${process.platform} ${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', memoryGB: Math.round(totalmem() / 2 ** 30) },
    bullmqCap: BULLMQ_CAP,
    runs: [...kept, ...results],
  };
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(doc, null, 1));
  if (hot) {
    const table = hotTable(results);
    writeFileSync(join(outDir, 'hot.md'), table);
    console.log(table);
    return;
  }
  writeReport(doc, outDir);
  console.log(`wrote ${join(outDir, 'results.json')}, README.md and charts in ${(Date.now() - started.getTime()) / 1000} s`);
}

/** Issue 11's ratio table: CPU vs toad-scheduler and p99 vs the setTimeout floor, per workload (medians over repeats). */
function hotTable(results: Array<{ spec: RunSpec; ok: boolean; result?: unknown }>): string {
  const groups = new Map<string, Map<string, Array<{ cpu: number; p99: number; kept: number }>>>();
  for (const r of results) {
    if (!r.ok || r.spec.worker !== 'workers/lateness.ts') continue;
    const x = r.result as { params: LatenessParams; cpu: { windowMs: number }; lateness: { p99: number }; fires: { keptPct: number } };
    const key = `${x.params.n} @${x.params.intervalMs} ms ${x.params.stagger}`;
    const g = groups.get(key) ?? new Map();
    groups.set(key, g);
    const list = g.get(x.params.contender) ?? [];
    g.set(x.params.contender, list);
    list.push({ cpu: x.cpu.windowMs, p99: x.lateness.p99, kept: x.fires.keptPct });
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
  const L = [`window ${hotWindow} ms, ${hotRepeat} repeat(s); each cell: the median of the repeats (the lower of two), then every repeat in run order; ratios from the medians`, '', '| workload | contender | CPU ms (runs) | p99 ms (runs) | kept % | CPU ÷ toad | p99 ÷ setTimeout |', '|---|---|---|---|---|---|---|'];
  for (const [key, g] of groups) {
    const toadCpu = g.get('toad-scheduler') ? median(g.get('toad-scheduler')!.map((x) => x.cpu)) : Number.NaN;
    const floorP99 = g.get('setTimeout') ? median(g.get('setTimeout')!.map((x) => x.p99)) : Number.NaN;
    for (const [c, list] of g) {
      const cpu = median(list.map((x) => x.cpu));
      const p99 = median(list.map((x) => x.p99));
      L.push(`| ${key} | ${c} | ${cpu} (${list.map((x) => x.cpu).join(', ')}) | ${p99} (${list.map((x) => x.p99).join(', ')}) | ${Math.min(...list.map((x) => x.kept))} | ${(cpu / toadCpu).toFixed(2)} | ${(p99 / Math.max(1, floorP99)).toFixed(2)} |`);
    }
  }
  return L.join('\n') + '\n';
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
