/**
 * syncwheel demo: a simulated service keeping a dozen fabrics in sync on the embedded
 * in-memory default (no server needed).
 *
 *   npm run demo                     # about 20 s
 *   npm run demo -- --duration 60    # seconds
 *
 * One fabric is flaky (fails about a third of its runs and retries with backoff), one is slow
 * (its sync takes longer than its interval: the slots it covers are counted as missed, it never
 * overlaps itself), one is disabled half-way and enabled again, and one (`cron-audit`) runs on a
 * calendar rule instead of an interval. A live table shows each fabric's
 * status; at the end a summary shows lateness (start minus slot time) and exits 0.
 *
 * Three queues keep work apart, as the service this comes from did: `fabric` (4 lanes, priority
 * 10), `git` (1 lane: slow clones take turns and never hold up fabric syncs) and `default`. The
 * git queue is paused for a while half-way through and resumed (its missed slots follow
 * missedRunPolicy). While slow-fabric syncs, the host asks for a sync with `requestSync`
 * ('queued', then 'coalesced'): one follow-up run starts when the running one ends. dead-target
 * fails every run: after 3 failures the breaker only probes it, every 2, 4, then 8 s. The status page is served on 127.0.0.1 (its address is printed at start);
 * `--port` picks the port, `--hold` keeps the demo running until Ctrl-C.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createScheduler, createStatusHandler, type FabricStatus, type SyncContext, type Fabric } from '../src/index.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '20' },
    quiet: { type: 'boolean', default: false },
    port: { type: 'string', default: '0' },
    hold: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const durationS = Number(values.duration);
if (!Number.isFinite(durationS) || durationS <= 0) {
  console.error(`Expected --duration to be a positive number of seconds, got ${values.duration}`);
  process.exit(2);
}

const port = Number(values.port);
if (!Number.isSafeInteger(port) || port < 0 || port > 65_535) {
  console.error(`Expected --port to be a port number (0 = any free port), got ${values.port}`);
  process.exit(2);
}

const fabrics = [
  { id: 'dc1-spine', syncInterval: 2000, queue: 'fabric' },
  { id: 'dc1-leaf-a', syncInterval: 3000, queue: 'fabric' },
  { id: 'dc1-leaf-b', syncInterval: 3000, queue: 'fabric' },
  { id: 'dc2-spine', syncInterval: 'PT4S', queue: 'fabric' },
  { id: 'dc2-leaf-a', syncInterval: 5000, queue: 'fabric' },
  { id: 'dc2-leaf-b', syncInterval: 5000, queue: 'fabric' },
  { id: 'edge-pop-1', syncInterval: 6000, queue: 'fabric' },
  { id: 'edge-pop-2', syncInterval: 7000, queue: 'fabric' },
  { id: 'lab-fabric', syncInterval: 8000, queue: 'fabric' },
  { id: 'flaky-fabric', syncInterval: 4000, queue: 'fabric' }, // fails ~1/3 of runs
  { id: 'slow-fabric', syncInterval: 3000, syncTimeout: 10_000 }, // takes ~4.5 s
  { id: 'backup-site', syncInterval: 10_000 },
  // a calendar fabric: every 5 s on the wall clock (:00, :05, …), six-field cron with seconds first
  { id: 'cron-audit', schedule: { cron: '*/5 * * * * *', timeZone: 'Europe/Berlin' } },
  { id: 'dead-target', syncInterval: 1000 }, // always fails: behind the breaker after 3 runs
  { id: 'repo-configs', syncInterval: 5000, queue: 'git' }, // git clones: ~1 s each, one at a time
  { id: 'repo-templates', syncInterval: 5000, queue: 'git' },
  { id: 'repo-scripts', syncInterval: 5000, queue: 'git' },
];

const wait = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

/** The host's sync: here a simulated call to the network controller. */
async function syncFabric(fabric: Fabric, ctx: SyncContext): Promise<void> {
  if (fabric.id === 'slow-fabric') return wait(4500, ctx.signal);
  if (fabric.id === 'dead-target') throw new Error('connection refused');
  if (fabric.queue === 'git') return wait(800 + Math.random() * 400, ctx.signal);
  await wait(50 + Math.random() * 250, ctx.signal);
  if (fabric.id === 'flaky-fabric' && Math.random() < 0.35) throw new Error('controller returned 503');
}

const stats = new Map<string, { runs: number; ok: number; failed: number; missed: number; lateness: number[] }>();
const stat = (id: string) => {
  let s = stats.get(id);
  if (!s) stats.set(id, (s = { runs: 0, ok: 0, failed: 0, missed: 0, lateness: [] }));
  return s;
};
let maxOverlap = 0;
const running = new Map<string, number>();

const scheduler = createScheduler({
  executor: async (fabric, ctx) => {
    const n = (running.get(fabric.id) ?? 0) + 1;
    running.set(fabric.id, n);
    maxOverlap = Math.max(maxOverlap, n);
    try {
      await syncFabric(fabric, ctx);
    } finally {
      running.set(fabric.id, running.get(fabric.id)! - 1);
    }
  },
  maxConcurrentSyncs: 6,
  queues: { fabric: { concurrency: 4, priority: 10 }, git: { concurrency: 1 } },
  retry: { initialDelay: 500, multiplier: 2, maxDelay: 4000 },
  breaker: { after: 3, maxProbeInterval: 8000 },
});

// The status page, read-only unless the host authorizes actions (a demo allows them from this machine only).
const server = createServer(createStatusHandler(scheduler, { title: 'syncwheel demo', refreshInterval: 1000, authorize: (req) => req.socket.remoteAddress === '127.0.0.1' }));
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
const pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

scheduler.on('sync:started', (e) => {
  const s = stat(e.fabricId);
  s.runs++;
  s.lateness.push(e.lateness);
});
scheduler.on('sync:succeeded', (e) => void stat(e.fabricId).ok++);
scheduler.on('sync:failed', (e) => void stat(e.fabricId).failed++);
scheduler.on('sync:missed', (e) => void (stat(e.fabricId).missed += e.count));
scheduler.on('error', (e) => console.error('scheduler error:', e.operation, e.error.message));
scheduler.on('breaker:opened', (e) => console.log(`\n→ ${e.fabricId}: ${e.failures} failures in a row, behind the breaker: next probe in ${e.probeInterval / 1000}s`));
scheduler.on('breaker:closed', (e) => console.log(`\n→ ${e.fabricId}: back on its grid after ${e.failures} failures`));
let requested: { at: number; answers: string[]; followUpAfterMs?: number } | undefined;
scheduler.on('sync:started', (e) => {
  if (requested && e.fabricId === 'slow-fabric' && e.trigger === 'manual' && requested.followUpAfterMs === undefined) {
    requested.followUpAfterMs = e.startedAt - requested.at;
    console.log(`\n→ slow-fabric: the requested follow-up run started (trigger manual), ${requested.followUpAfterMs} ms after the request`);
  }
});

const COLORS: Record<string, string> = { in_sync: '32', syncing: '36', error: '31', out_of_sync: '33', never_synced: '90', disabled: '90' };
const tty = process.stdout.isTTY && !values.quiet;
const paint = (status: string) => (tty ? `\x1b[${COLORS[status] ?? '0'}m${status.padEnd(12)}\x1b[0m` : status.padEnd(12));
const ago = (t: number | null, now: number) => (t === null ? '-' : `${((now - t) / 1000).toFixed(1)}s ago`);
const inS = (t: number | null, now: number) => (t === null ? '-' : `in ${Math.max(0, (t - now) / 1000).toFixed(1)}s`);

function table(rows: FabricStatus[], elapsed: number): string {
  const now = Date.now();
  const lines = [
    `syncwheel demo: ${rows.length} fabrics, ${elapsed.toFixed(0)}/${durationS}s   (in-memory storage, maxConcurrentSyncs 6)   status page: ${pageUrl}`,
    `${'fabric'.padEnd(15)}${'queue'.padEnd(8)}${'status'.padEnd(13)}${'last sync'.padEnd(12)}${'next'.padEnd(10)}${'runs'.padStart(5)}${'fail'.padStart(5)}${'missed'.padStart(7)}  last error`,
  ];
  for (const f of rows) {
    const s = stat(f.id);
    lines.push(
      `${f.id.padEnd(15)}${f.queue.padEnd(8)}${paint(f.paused ? 'paused' : f.status)} ${ago(f.lastSyncAt, now).padEnd(12)}${inS(f.nextSyncAt, now).padEnd(10)}${String(s.runs).padStart(5)}${String(s.failed).padStart(5)}${String(s.missed).padStart(7)}  ${f.lastError ?? ''}`,
    );
  }
  return lines.join('\n');
}

const startedAt = Date.now();
for (const f of fabrics) await scheduler.upsertFabric(f);
await scheduler.start();
console.log(`Started ${fabrics.length} fabrics in 3 queues; running for ${durationS}s.`);
console.log(`Status page: ${pageUrl}  (JSON: ${pageUrl}fabrics, ${pageUrl}metrics)`);

let toggled = 0;
let gitPaused = 0;
let lastDraw = 0;
const ticker = setInterval(async () => {
  const elapsed = (Date.now() - startedAt) / 1000;
  if (toggled === 0 && elapsed > durationS * 0.4) {
    toggled = 1;
    await scheduler.upsertFabric({ id: 'lab-fabric', syncInterval: 8000, queue: 'fabric', enabled: false });
    console.log('\n→ lab-fabric disabled by the host (its schedule stops at once)');
  } else if (toggled === 1 && elapsed > durationS * 0.6) {
    toggled = 2;
    await scheduler.upsertFabric({ id: 'lab-fabric', syncInterval: 8000, queue: 'fabric', enabled: true });
    console.log('\n→ lab-fabric enabled again (it syncs at once)');
  }
  if (gitPaused === 0 && elapsed > durationS * 0.3) {
    gitPaused = 1;
    await scheduler.pause({ queue: 'git' });
    console.log('\n→ git queue paused (maintenance): its repos keep their grid but start nothing');
  } else if (gitPaused === 1 && elapsed > durationS * 0.5) {
    gitPaused = 2;
    await scheduler.resume({ queue: 'git' });
    console.log('\n→ git queue resumed: one catch-up run per repo (missedRunPolicy "once")');
  }
  const rows = await scheduler.listFabrics();
  if (!requested && elapsed > durationS * 0.2 && rows.find((f) => f.id === 'slow-fabric')?.status === 'syncing') {
    requested = { at: Date.now(), answers: [] };
    requested.answers.push(await scheduler.requestSync('slow-fabric'), await scheduler.requestSync('slow-fabric'));
    console.log(`\n→ requestSync('slow-fabric') while it syncs: ${requested.answers.map((a) => `'${a}'`).join(', then ')} (one follow-up run when this one ends)`);
  }
  if (tty) {
    process.stdout.write(`\x1b[2J\x1b[H${table(rows, elapsed)}\n`);
  } else if (elapsed - lastDraw >= 5 && !values.quiet) {
    lastDraw = elapsed;
    console.log(`\n${table(rows, elapsed)}`);
  }
}, 500);

await new Promise((resolve) => setTimeout(resolve, durationS * 1000));
if (values.hold) {
  console.log(`\n--hold: still running; the status page stays at ${pageUrl} until Ctrl-C`);
  await new Promise((resolve) => process.once('SIGINT', resolve));
}
clearInterval(ticker);
const metrics = scheduler.metrics();
await scheduler.stop({ inFlight: 'wait', drainTimeout: 6000 });
server.close();

const all = [...stats.values()];
const lateness = all.flatMap((s) => s.lateness).sort((a, b) => a - b);
const pct = (p: number) => lateness[Math.min(lateness.length - 1, Math.floor((p / 100) * lateness.length))] ?? 0;
const final = await scheduler.listFabrics();
console.log(`\n${table(final, durationS)}\n`);
console.log('Summary');
console.log(`  runs ${all.reduce((a, s) => a + s.runs, 0)}, succeeded ${all.reduce((a, s) => a + s.ok, 0)}, failed ${all.reduce((a, s) => a + s.failed, 0)} (flaky-fabric, retried with backoff; dead-target, behind the breaker), missed slots ${all.reduce((a, s) => a + s.missed, 0)} (slow-fabric overruns its interval; git repos while their queue was paused)`);
console.log(`  lateness of starts (start - slot, including waits for a lane: 6 in all, 4 fabric, 1 git): p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${lateness.at(-1) ?? 0} ms`);
console.log(`  most concurrent runs of one fabric: ${maxOverlap} (single-flight: never more than 1)`);
console.log(`  requestSync during slow-fabric's run: ${requested ? `${requested.answers.join(', ')}; follow-up started ${requested.followUpAfterMs ?? '-'} ms after the request` : 'not made (no run seen in time)'}`);
console.log(`  breaker: dead-target made ${stat('dead-target').runs} attempts in ${durationS}s on a 1 s grid; fabrics behind it at the end ${metrics.breaker.open}, probes ${metrics.breaker.probes}`);
for (const q of Object.values(metrics.queues)) {
  console.log(
    `  queue ${q.name.padEnd(8)} lanes ${String(q.concurrency === Infinity ? '∞' : q.concurrency).padEnd(2)} priority ${String(q.priority).padEnd(3)} runs ${String(q.runs).padStart(3)}, failed ${q.failed}, missed ${q.missed} (paused ${q.missedByReason.paused}), lateness p50 ${q.lateness.p50 ?? 0} ms, p99 ${q.lateness.p99 ?? 0} ms (bucket bounds)`,
  );
}
console.log(`  statuses: ${Object.entries(final.reduce<Record<string, number>>((acc, f) => ((acc[f.status] = (acc[f.status] ?? 0) + 1), acc), {})).map(([k, v]) => `${k} ${v}`).join(', ')}`);
if (maxOverlap > 1) process.exit(1);
