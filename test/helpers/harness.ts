import { createScheduler, MemoryStorage, type Fabric, type SchedulerOptions, type SyncContext } from '../../src/index.js';
import { createFakeClock, type FakeClock } from '../../src/testing.js';

export const T0 = Date.parse('2026-03-01T00:00:00Z');

export interface RunLog {
  id: string;
  start: number;
  end: number | null;
  scheduledAt: number;
  attempt: number;
  fencingToken: number;
  trigger: string;
  signal: AbortSignal;
}

export type Behaviour = (fabric: Fabric, ctx: SyncContext, clock: FakeClock) => Promise<unknown> | unknown;

/** Waits `ms` on the fake clock (resolves when the test ticks past it). Real-time waits: wait.ts. */
export function sleepOn(clock: FakeClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/**
 * A scheduler on a fake clock whose executor logs every run and checks that no fabric ever runs
 * twice at once. `behaviour` decides what a run does (default: 10 ms of work).
 */
export function makeHarness(options: Partial<SchedulerOptions> & { behaviour?: Behaviour; now?: number } = {}) {
  const clock = options.clock as FakeClock | undefined ?? createFakeClock({ now: options.now ?? T0 });
  const storage = options.storage ?? new MemoryStorage();
  const runs: RunLog[] = [];
  const active = new Map<string, number>();
  const overlaps: string[] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const behaviour: Behaviour = options.behaviour ?? (async () => sleepOn(clock, 10));
  const { behaviour: _b, now: _n, ...schedulerOptions } = options;
  const scheduler = createScheduler({
    retry: false,
    ...schedulerOptions,
    clock,
    storage,
    executor: async (fabric, ctx) => {
      const log: RunLog = { id: fabric.id, start: clock.now(), end: null, scheduledAt: ctx.scheduledAt, attempt: ctx.attempt, fencingToken: ctx.fencingToken, trigger: ctx.trigger, signal: ctx.signal };
      runs.push(log);
      const n = (active.get(fabric.id) ?? 0) + 1;
      active.set(fabric.id, n);
      if (n > 1) overlaps.push(`${fabric.id}@${clock.now()}`);
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      try {
        return await behaviour(fabric, ctx, clock);
      } finally {
        log.end = clock.now();
        active.set(fabric.id, active.get(fabric.id)! - 1);
        concurrent--;
      }
    },
  });
  const events: Array<{ name: string; payload: any }> = [];
  for (const name of ['status:changed', 'sync:started', 'sync:succeeded', 'sync:failed', 'sync:skipped', 'sync:missed', 'error', 'clock:jump'] as const) {
    scheduler.on(name, (payload: any) => events.push({ name, payload }));
  }
  return {
    clock,
    storage,
    scheduler,
    runs,
    events,
    overlaps,
    get maxConcurrent() {
      return maxConcurrent;
    },
    /** Stops the scheduler, ticking the fake clock so in-flight runs can finish (drain mode). */
    async stop(options?: Parameters<typeof scheduler.stop>[0]) {
      let done = false;
      const stopped = scheduler.stop(options).finally(() => (done = true));
      await clock.flush();
      for (let i = 0; i < 10_000 && !done; i++) await clock.tickAsync(100);
      await stopped;
    },
    runsOf: (id: string) => runs.filter((r) => r.id === id),
    eventsOf: (name: string, id?: string) => events.filter((e) => e.name === name && (id === undefined || e.payload.fabricId === id)).map((e) => e.payload),
  };
}
