/**
 * The contenders of the lateness scenarios, behind one small interface. Each one keeps N jobs
 * ("fabrics") firing every `intervalMs` and calls `fire(i, slot?)` when job i starts: syncwheel
 * passes its own slot (`ctx.scheduledAt`); the peers let the recorder place the fire on their grid
 * (`start_i + k * interval`, see lateness.ts).
 *
 * How the grid starts (`gridStart`):
 * - 'created': the job's grid starts when it is added (syncwheel: a never-synced fabric syncs at
 *   once and anchors its grid there; toad-scheduler: runImmediately + setInterval; BullMQ:
 *   `every` job schedulers run at once). The harness adds job i at its staggered start time.
 * - 'absolute': the harness gives the job its first deadline (setTimeout per job).
 * - 'cron': the grid is the cron pattern's whole seconds (croner, node-cron); sub-second
 *   offsets cannot be expressed, so starts are rounded to whole seconds.
 */
import { Cron } from 'croner';
import cron from 'node-cron';
import { SimpleIntervalJob, Task, ToadScheduler } from 'toad-scheduler';
import { MemoryStorage, createScheduler, initialState, normalizeFabric } from '../../src/index.js';

export type Fire = (i: number, slot?: number) => void;

export interface ContenderContext {
  n: number;
  intervalMs: number;
  fire: Fire;
  /** Redis prefix / queue name, for BullMQ. */
  tag: string;
}

export interface Contender {
  readonly gridStart: 'created' | 'absolute' | 'cron';
  /** Adds jobs i in `ids` now ('created') or at the given first deadlines ('absolute' / 'cron'). */
  add(ids: number[], firstAt: (i: number) => number): Promise<void> | void;
  /** Counters the contender exposes (warnings, skips...). */
  extra?(): Record<string, number>;
  stop(): Promise<void>;
}

export type ContenderName = 'syncwheel' | 'syncwheel-host' | 'syncwheel-bulk' | 'syncwheel-restore' | 'setTimeout' | 'toad-scheduler' | 'croner' | 'node-cron' | 'bullmq';

export async function makeContender(name: ContenderName, ctx: ContenderContext): Promise<Contender> {
  switch (name) {
    case 'syncwheel':
      return syncwheel(ctx);
    case 'syncwheel-host':
      return syncwheel(ctx, true);
    case 'syncwheel-bulk':
      return syncwheel(ctx, false, true);
    case 'syncwheel-restore':
      return syncwheelRestore(ctx);
    case 'setTimeout':
      return timerPerJob(ctx);
    case 'toad-scheduler':
      return toad(ctx);
    case 'croner':
      return croner(ctx);
    case 'node-cron':
      return nodeCron(ctx);
    case 'bullmq':
      return bullmq(ctx);
  }
}

/**
 * syncwheel as shipped: in-memory storage, in-process single-flight, no retries. With `host`, as a
 * real host runs it (issue 11): one `sync:succeeded` listener attached and the built-in
 * `metrics()` snapshot read every second (no OpenTelemetry SDK installed).
 */
async function syncwheel({ intervalMs, fire, n }: ContenderContext, host = false, bulk = false): Promise<Contender> {
  let bulkStart = 0;
  let startAt = 0;
  let firstRunAt = 0;
  let allRanAt = 0;
  let runs = 0;
  const scheduler = createScheduler({
    executor: (fabric, c) => {
      if (bulk && runs < n) {
        // when upsertFabrics handed over (its first run) and when every fabric had run once
        if (runs === 0) firstRunAt = performance.now();
        if (++runs === n) allRanAt = performance.now();
      }
      fire(Number(fabric.id), c.scheduledAt);
    },
    maxConcurrentSyncs: Number.POSITIVE_INFINITY,
    retry: false,
  });
  let errors = 0;
  let missed = 0;
  scheduler.on('error', () => errors++);
  scheduler.on('sync:missed', (e) => (missed += e.count));
  let succeeded = 0;
  let snapshots = 0;
  let bulkMs = 0;
  let metricsTimer: NodeJS.Timeout | undefined;
  if (host) {
    scheduler.on('sync:succeeded', () => void succeeded++);
    metricsTimer = setInterval(() => {
      if (scheduler.metrics().succeeded >= 0) snapshots++;
    }, 1000);
  }
  // bulk: the definitions go in with upsertFabrics before start() (a host booting with its
  // fabrics), then start() runs each once; every step is timed
  if (!bulk) await scheduler.start();
  return {
    gridStart: 'created',
    async add(ids) {
      if (bulk) {
        // one upsertFabrics call (issue 11): timed on its own
        bulkStart = performance.now();
        await scheduler.upsertFabrics(ids.map((i) => ({ id: String(i), syncInterval: intervalMs })));
        bulkMs += performance.now() - bulkStart;
        startAt = performance.now();
        await scheduler.start();
        return;
      }
      const ps: Promise<unknown>[] = [];
      for (const i of ids) ps.push(scheduler.upsertFabric({ id: String(i), syncInterval: intervalMs }));
      await Promise.all(ps);
    },
    extra: () => ({ errors, missedSlotsReported: missed, ...(host ? { succeededEvents: succeeded, metricsSnapshots: snapshots } : {}), ...(bulk ? { upsertFabricsMs: Math.round(bulkMs), firstRunAfterStartMs: Math.round(firstRunAt - startAt), allSyncedOnceAfterStartMs: allRanAt ? Math.round(allRanAt - startAt) : -1 } : {}) }),
    stop: () => {
      if (metricsTimer) clearInterval(metricsTimer);
      return scheduler.stop({ inFlight: 'abort' });
    },
  };
}

/**
 * syncwheel started over a storage that already holds the fabrics (a service restarting, or a
 * host that persisted its fabrics): records are written through the public Storage API with
 * their grid anchored at the first deadline, then `start()` loads and arms them all. Used for
 * the 1M-fabric scale run, where adding fabrics one upsert at a time is measured separately.
 */
async function syncwheelRestore({ intervalMs, fire }: ContenderContext): Promise<Contender> {
  const storage = new MemoryStorage();
  const scheduler = createScheduler({
    storage,
    executor: (fabric, c) => {
      fire(Number(fabric.id), c.scheduledAt);
    },
    retry: false,
    // Issue 11 measures the million-fabric process with run history off (its cost per entry is
    // reported on its own: docs/operations.md "Run history").
    historySize: 0,
  });
  let errors = 0;
  let missed = 0;
  let loadMs = 0;
  let startMs = 0;
  scheduler.on('error', () => errors++);
  scheduler.on('sync:missed', (e) => (missed += e.count));
  return {
    gridStart: 'absolute',
    async add(ids, firstAt) {
      const t0 = performance.now();
      for (const i of ids) {
        const definition = normalizeFabric({ id: String(i), syncInterval: intervalMs }, { syncTimeout: 0 });
        const at = firstAt(i);
        await storage.write(String(i), { definition, state: { ...initialState(), anchorAt: at, nextSyncAt: at } }, null);
      }
      const t1 = performance.now();
      await scheduler.start();
      startMs = performance.now() - t1;
      loadMs = t1 - t0;
    },
    extra: () => ({ errors, missedSlotsReported: missed, storageWriteMs: Math.round(loadMs), startMs: Math.round(startMs) }),
    stop: () => scheduler.stop({ inFlight: 'abort' }),
  };
}

/** The floor of a timer-per-job design: one setTimeout per job, re-armed for start + k * interval (absolute deadlines, no drift). */
function timerPerJob({ intervalMs, fire }: ContenderContext): Contender {
  const timers = new Map<number, NodeJS.Timeout>();
  let stopped = false;
  const arm = (i: number, deadline: number) => {
    const t = setTimeout(() => {
      fire(i);
      if (stopped) return;
      let next = deadline + intervalMs;
      const now = Date.now();
      if (next <= now) next += Math.ceil((now - next + 1) / intervalMs) * intervalMs; // never pile up
      arm(i, next);
    }, deadline - Date.now());
    timers.set(i, t);
  };
  return {
    gridStart: 'absolute',
    add(ids, firstAt) {
      for (const i of ids) arm(i, firstAt(i));
    },
    async stop() {
      stopped = true;
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}

function toad({ intervalMs, fire }: ContenderContext): Contender {
  const scheduler = new ToadScheduler();
  return {
    gridStart: 'created',
    add(ids) {
      for (const i of ids) {
        const task = new Task(`t${i}`, () => fire(i));
        scheduler.addSimpleIntervalJob(new SimpleIntervalJob({ milliseconds: intervalMs, runImmediately: true }, task, { id: `j${i}` }));
      }
    },
    async stop() {
      scheduler.stop();
    },
  };
}

/** Cron pattern firing every `intervalMs` (whole seconds dividing 60) with the first fire at second `firstAt`. */
function cronPattern(intervalMs: number, firstAtMs: number): string {
  const s = intervalMs / 1000;
  if (!Number.isInteger(s) || 60 % s !== 0) throw new Error(`cron contenders need an interval of whole seconds dividing 60, got ${intervalMs} ms`);
  if (s === 1) return '* * * * * *';
  const sec = Math.floor(firstAtMs / 1000) % s;
  return `${sec}/${s} * * * * *`;
}

function croner({ intervalMs, fire }: ContenderContext): Contender {
  const jobs: Cron[] = [];
  return {
    gridStart: 'cron',
    add(ids, firstAt) {
      for (const i of ids) jobs.push(new Cron(cronPattern(intervalMs, firstAt(i)), () => fire(i)));
    },
    async stop() {
      for (const j of jobs) j.stop();
    },
  };
}

function nodeCron({ intervalMs, fire }: ContenderContext): Contender {
  const tasks: ReturnType<typeof cron.schedule>[] = [];
  let missedWarnings = 0;
  let otherWarnings = 0;
  const logger = {
    info() {},
    debug() {},
    warn(message: string) {
      if (/missed/i.test(message)) missedWarnings++;
      else otherWarnings++;
    },
    error() {
      otherWarnings++;
    },
  };
  return {
    gridStart: 'cron',
    add(ids, firstAt) {
      for (const i of ids) tasks.push(cron.schedule(cronPattern(intervalMs, firstAt(i)), () => fire(i), { logger }));
    },
    extra: () => ({ missedExecutionWarnings: missedWarnings, otherWarnings }),
    async stop() {
      for (const t of tasks) await t.destroy();
    },
  };
}

async function bullmq({ intervalMs, fire, tag }: ContenderContext): Promise<Contender> {
  const { Queue, Worker } = await import('bullmq');
  const { Redis } = await import('ioredis');
  const connection = { host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null };
  const prefix = `bench-${tag}`;
  const name = 'fabrics';
  const queue = new Queue(name, { connection, prefix });
  const worker = new Worker(
    name,
    async (job) => {
      fire(job.data.i as number);
    },
    { connection, prefix, concurrency: 200, removeOnComplete: { count: 0 }, removeOnFail: { count: 0 } },
  );
  await worker.waitUntilReady();
  const stats = new Redis(connection);
  const cmd0 = await totalCommands(stats);
  let redisCommands = -1;
  return {
    gridStart: 'created',
    async add(ids) {
      await Promise.all(ids.map((i) => queue.upsertJobScheduler(`f${i}`, { every: intervalMs }, { name: 'sync', data: { i }, opts: { removeOnComplete: true, removeOnFail: true } })));
    },
    async stop() {
      await worker.close(true);
      redisCommands = (await totalCommands(stats)) - cmd0;
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      // obliterate leaves scheduler keys in some versions: sweep the prefix.
      let cursor = '0';
      do {
        const [next, keys] = await stats.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await stats.del(...keys);
      } while (cursor !== '0');
      await stats.quit();
    },
    extra: () => ({ redisCommandsWholeRun: redisCommands }),
  };
}

async function totalCommands(redis: { info(section: string): Promise<string> }): Promise<number> {
  const info = await redis.info('stats');
  const m = /total_commands_processed:(\d+)/.exec(info);
  return m ? Number(m[1]) : 0;
}
