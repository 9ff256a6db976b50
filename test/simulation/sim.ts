/**
 * The deterministic simulation: fast-check generates a configuration and a list of plain-data
 * commands (host calls, executor behaviours, fake-clock ticks, wall-clock steps, storage faults);
 * `runSequence` plays them against schedulers on one fake clock and one FaultyStorage over a
 * MemoryStorage, checking the invariants after every step, then heals everything and checks that
 * every enabled, unpaused fabric runs again. Shared by test/simulation/simulation.test.ts and
 * scripts/simulate.ts. A failing sequence shrinks to a short command list, printed as JSON, that
 * `npm run simulate -- --replay '<json>'` plays again (or `--seed S --path P`).
 */
import fc from 'fast-check';
import {
  InProcessSingleFlight,
  MemoryStorage,
  StorageError,
  SyncwheelError,
  createScheduler,
  loadControl,
  normalizeFabric,
  type MissedRunPolicy,
  type Scheduler,
  type SchedulerOptions,
  type SyncContext,
} from '../../src/index.js';
import { FaultyStorage, InjectedFaultError, createFakeClock, createInvariantChecker, type FakeClock, type InvariantChecker, type Violation } from '../../src/testing.js';

export const T0 = Date.parse('2026-03-01T00:00:00Z');
/** Fabric ids: a small pool, so commands collide on the same fabric. */
export const IDS = ['f0', 'f1', 'f2', 'f3'] as const;
export const INTERVALS = [1_000, 5_000, 30_000, 60_000, 300_000] as const;
/**
 * Ids that are calendar fabrics (the upsert's interval is ignored for them): one in UTC, one in a
 * daylight-saving zone, each with the longest gap between its occurrences (for liveness and the
 * executor's slow runs). Their slots are checked against the rule (`on-cadence`).
 */
export const CALENDARS: Readonly<Record<string, { readonly cron: string; readonly timeZone: string; readonly gap: number }>> = Object.freeze({
  f2: { cron: '*/20 * * * * *', timeZone: 'UTC', gap: 20_000 },
  f3: { cron: '0 */5 * * * *', timeZone: 'Europe/Berlin', gap: 300_000 },
});
const CALENDAR_DEFINITIONS = new Map(Object.entries(CALENDARS).map(([id, c]) => [id, normalizeFabric({ id, schedule: { cron: c.cron, timeZone: c.timeZone } }, { syncTimeout: 0 })]));
/** The longest gap between two slots of a fabric's cadence. */
const gapOf = (id: string, interval: number | null): number => CALENDARS[id]?.gap ?? interval ?? 0;
export const TIMEOUTS = [0, 500, 5_000, 60_000] as const;
/** `shutdown.drainTimeout` and `operationTimeout` of every simulated scheduler. */
export const DRAIN_TIMEOUT = 5_000;
export const OPERATION_TIMEOUT = 2_000;
/** Slack of the liveness check on top of one interval: housekeeping (5 s), a retry, a claim. */
export const LIVENESS_SLACK = 10_000;

export type Behaviour = 'ok' | 'fail' | 'hang' | 'ignore' | 'slow';
export type FaultKind = 'latency' | 'fail' | 'hang' | 'mixed' | 'heal';

/** One step of a sequence. Plain data, so a shrunk sequence prints as JSON and replays as is. */
export type Command =
  | { t: 'upsert'; s: number; id: string; interval: number; enabled: boolean; timeout: number }
  /** `everywhere`: the host removes it through every scheduler at once (config-driven replicas). */
  | { t: 'remove'; s: number; id: string; everywhere: boolean }
  | { t: 'syncNow'; s: number; id: string }
  | { t: 'pause'; s: number; id: string | null }
  | { t: 'resume'; s: number; id: string | null }
  | { t: 'start'; s: number }
  | { t: 'stop'; s: number; mode: 'wait' | 'abort' }
  | { t: 'exec'; id: string; b: Behaviour }
  | { t: 'tick'; ms: number }
  | { t: 'step'; ms: number }
  | { t: 'faults'; kind: FaultKind };

export interface SimConfig {
  schedulers: number;
  policy: MissedRunPolicy;
  maxConcurrentSyncs: number;
  /** `clockSteps` passed to every scheduler (and how the checker names slots after a step). */
  clockSteps: 'move-grid' | 'keep-grid';
  /** Seed of the FaultyStorage PRNG. */
  storageSeed: number;
}

export interface Sequence {
  config: SimConfig;
  commands: Command[];
}

/** What a sequence type draws. */
export interface SequenceType {
  name: string;
  description: string;
  schedulers: readonly number[];
  faults: boolean;
  steps: boolean;
  /** Most commands per sequence. */
  maxCommands: number;
}

export const SEQUENCE_TYPES: Readonly<Record<string, SequenceType>> = Object.freeze({
  host: { name: 'host', description: 'host calls, executor behaviours and ticks; one scheduler, healthy storage, steady wall clock', schedulers: [1], faults: false, steps: false, maxCommands: 30 },
  faults: { name: 'faults', description: 'as host, plus storage latency, failures and hangs switched on and off', schedulers: [1], faults: true, steps: false, maxCommands: 30 },
  clock: { name: 'clock', description: 'as host, plus wall-clock steps forward and back', schedulers: [1], faults: false, steps: true, maxCommands: 30 },
  replicas: { name: 'replicas', description: 'two or three schedulers sharing the storage and a single-flight, healthy storage', schedulers: [2, 3], faults: false, steps: false, maxCommands: 30 },
  chaos: { name: 'chaos', description: 'everything at once: replicas, faults, steps', schedulers: [1, 2, 3], faults: true, steps: true, maxCommands: 40 },
});

// ---------------------------------------------------------------- arbitraries

const idArb = fc.constantFrom(...IDS);

function commandArb(type: SequenceType, schedulers: number): fc.Arbitrary<Command> {
  const s = fc.nat({ max: schedulers - 1 });
  const weighted: Array<fc.WeightedArbitrary<Command>> = [
    { weight: 6, arbitrary: fc.record({ t: fc.constant('upsert' as const), s, id: idArb, interval: fc.constantFrom(...INTERVALS), enabled: fc.boolean(), timeout: fc.constantFrom(...TIMEOUTS) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('remove' as const), s, id: idArb, everywhere: schedulers > 1 ? fc.boolean() : fc.constant(false) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('syncNow' as const), s, id: idArb }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('pause' as const), s, id: fc.option(idArb, { nil: null }) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('resume' as const), s, id: fc.option(idArb, { nil: null }) }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('start' as const), s }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('stop' as const), s, mode: fc.constantFrom('wait' as const, 'abort' as const) }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('exec' as const), id: idArb, b: fc.constantFrom<Behaviour>('ok', 'fail', 'hang', 'ignore', 'slow') }) },
    {
      weight: 8,
      arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 100, max: 10_000 }), fc.integer({ min: 10_000, max: 400_000 })) }),
    },
  ];
  if (type.steps) {
    const big = fc.integer({ min: 60_000, max: 2 * 3_600_000 });
    weighted.push({ weight: 2, arbitrary: fc.record({ t: fc.constant('step' as const), ms: fc.oneof(big, big.map((ms) => -ms)) }) });
  }
  if (type.faults) {
    weighted.push({ weight: 3, arbitrary: fc.record({ t: fc.constant('faults' as const), kind: fc.constantFrom<FaultKind>('heal', 'latency', 'fail', 'hang', 'mixed') }) });
  }
  return fc.oneof(...weighted);
}

/** Configuration and commands of one sequence of `type`. */
export function sequenceArb(type: SequenceType): fc.Arbitrary<Sequence> {
  return fc
    .record({
      schedulers: fc.constantFrom(...type.schedulers),
      policy: fc.constantFrom<MissedRunPolicy>('once', 'skip', 'all'),
      maxConcurrentSyncs: fc.constantFrom(Number.POSITIVE_INFINITY, 2),
      storageSeed: fc.nat(),
    })
    .chain((c) => {
      const config: SimConfig = { ...c, clockSteps: c.schedulers === 1 ? 'move-grid' : 'keep-grid' };
      // Every sequence begins with a start and at least one fabric, so little is spent on empty worlds.
      const opening: Command[] = [{ t: 'start', s: 0 }];
      return fc.array(commandArb(type, c.schedulers), { minLength: 1, maxLength: type.maxCommands }).map((rest) => ({ config, commands: [...opening, ...rest] }));
    });
}

// ---------------------------------------------------------------- the world

/** Fails a sequence: carries the violations and the trace of what was played. */
export class SimulationFailure extends Error {
  declare readonly violations: readonly Violation[];
  declare readonly trace: readonly string[];
  constructor(violations: readonly Violation[], trace: readonly string[]) {
    super(`${violations.length} violation(s):\n${violations.slice(0, 12).map((v) => `  - [${v.invariant}] ${v.fabricId} at ${v.at}: ${v.detail}`).join('\n')}${violations.length > 12 ? `\n  … and ${violations.length - 12} more` : ''}`);
    this.name = 'SimulationFailure';
    // Not enumerable: test runners would print every violation and the whole trace again.
    Object.defineProperty(this, 'violations', { value: violations, enumerable: false });
    Object.defineProperty(this, 'trace', { value: trace, enumerable: false });
  }
}

function sleep(clock: FakeClock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

interface PendingStop {
  s: number;
  deadline: number;
  settled: boolean;
  reported: boolean;
}

/** One simulated system: clock, storage, schedulers, checker, executor behaviours. */
export class World {
  readonly clock = createFakeClock({ now: T0 });
  readonly inner = new MemoryStorage();
  readonly storage: FaultyStorage;
  readonly schedulers: Scheduler[] = [];
  readonly checker: InvariantChecker;
  readonly behaviours = new Map<string, Behaviour>();
  /** Ids whose last host call was a remove that resolved, with no upsert issued since. */
  readonly removed = new Set<string>();
  /**
   * Ids whose last removeFabric failed at the storage: removed here (final for the scheduler), but
   * the record may remain, so nothing is expected of them until the host upserts them again.
   */
  readonly #removeFailed = new Set<string>();
  /** Ids removed at least once (through some scheduler). */
  readonly #everRemoved = new Set<string>();
  /**
   * Ids with an upsert that timed out: its write may still land at any time (no storage call can
   * be cancelled), even after later calls for the id, and on the grid of its own time (a wall
   * step since is not applied to it), so neither removal nor liveness is judged for them again.
   */
  readonly #inDoubt = new Set<string>();
  /** Upserts issued and not yet settled, per id. */
  readonly #upsertsInFlight = new Map<string, number>();
  /** Upserts issued per id: a remove that resolves after a later upsert was issued does not count. */
  readonly #upserts = new Map<string, number>();
  readonly stops: PendingStop[] = [];
  readonly trace: string[] = [];
  readonly extra: Violation[] = [];

  constructor(
    readonly config: SimConfig,
    readonly verbose: boolean,
    readonly ignore: readonly string[],
  ) {
    this.storage = new FaultyStorage(this.inner, { clock: this.clock, seed: config.storageSeed });
    this.checker = createInvariantChecker({ livenessClock: () => this.clock.monotonic(), ignore, definitionOf: (id) => CALENDAR_DEFINITIONS.get(id) });
    const singleFlight = new InProcessSingleFlight();
    for (let i = 0; i < config.schedulers; i++) {
      const options = {
        clock: this.clock,
        storage: this.storage,
        singleFlight,
        missedRunPolicy: config.policy,
        maxConcurrentSyncs: config.maxConcurrentSyncs,
        shutdown: { drainTimeout: DRAIN_TIMEOUT },
        // Known to the new core; today's scheduler ignores it (its stop() has no storage bound).
        operationTimeout: OPERATION_TIMEOUT,
        clockSteps: config.clockSteps,
        executor: (fabric, ctx) => this.#execute(fabric.id, gapOf(fabric.id, fabric.syncInterval), ctx),
      } as SchedulerOptions;
      const scheduler = createScheduler(options);
      this.checker.attach(scheduler, { label: `s${i}`, slotNames: config.clockSteps === 'move-grid' ? 'follow-steps' : 'fixed' });
      scheduler.on('error', ({ error, operation, fabricId }) => {
        if (error.name === 'IllegalTransitionError') this.#violation('legal-transition', fabricId ?? '?', `s${i} reported ${error.message} (operation ${operation})`);
        else if (!expectedError(error)) this.#violation('unexpected-error', fabricId ?? '?', `s${i} error event (${operation}): ${error.stack ?? error.message}`);
      });
      if (verbose) {
        for (const name of ['sync:started', 'sync:succeeded', 'sync:failed', 'sync:skipped', 'sync:missed', 'status:changed', 'fabric:added', 'fabric:removed', 'clock:jump', 'error'] as const) {
          scheduler.on(name, (e: unknown) => this.trace.push(`    s${i} ${name} ${summarize(e)}`));
        }
      }
      this.schedulers.push(scheduler);
    }
  }

  async #execute(id: string, interval: number, ctx: SyncContext): Promise<void> {
    switch (this.behaviours.get(id) ?? 'ok') {
      case 'ok':
        return sleep(this.clock, 10);
      case 'fail':
        await sleep(this.clock, 5);
        throw new Error(`simulated failure of ${id}`);
      case 'hang':
        return new Promise<void>((_, reject) => {
          const signal = ctx.signal;
          if (signal.aborted) reject(signal.reason);
          else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      case 'ignore':
        return sleep(this.clock, 30 * 60_000);
      case 'slow':
        return sleep(this.clock, Math.round(interval * 1.5));
    }
  }

  #violation(invariant: string, fabricId: string, detail: string): void {
    if (this.ignore.includes(invariant)) return;
    this.extra.push({ invariant, fabricId, detail, at: this.clock.now() });
  }

  /** Host calls are not awaited: the next commands race with them until a tick lets them settle. */
  #host<T>(label: string, call: () => Promise<T>, then?: (value: T) => void, failed?: (error: unknown) => void): void {
    let promise: Promise<T>;
    try {
      promise = call();
    } catch (error) {
      promise = Promise.reject(error);
    }
    promise.then(
      (value) => {
        if (this.verbose) this.trace.push(`    ${label} -> ${summarize(value)}`);
        then?.(value);
      },
      (error: unknown) => {
        if (this.verbose) this.trace.push(`    ${label} -> threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
        failed?.(error);
        if (!expectedError(error)) this.#violation('unexpected-error', '?', `${label} threw ${(error as Error)?.stack ?? String(error)}`);
      },
    );
  }

  async play(command: Command): Promise<void> {
    if (this.verbose) this.trace.push(`@${this.clock.now() - T0} ${JSON.stringify(command)}`);
    const sch = 's' in command ? this.schedulers[command.s % this.schedulers.length]! : undefined;
    const label = `${JSON.stringify(command)}`;
    switch (command.t) {
      case 'upsert':
        this.removed.delete(command.id);
        this.#removeFailed.delete(command.id);
        this.#upserts.set(command.id, (this.#upserts.get(command.id) ?? 0) + 1);
        this.#upsertsInFlight.set(command.id, (this.#upsertsInFlight.get(command.id) ?? 0) + 1);
        const landed = () => this.#upsertsInFlight.set(command.id, this.#upsertsInFlight.get(command.id)! - 1);
        // A removal is final on the scheduler it went through until the host upserts the id
        // there again, so after one the host re-defines it through every scheduler.
        const through = this.#everRemoved.has(command.id) ? this.schedulers : [sch!];
        this.#host(
          label,
          () => Promise.all(through.map((t) => t.upsertFabric({ id: command.id, ...(CALENDARS[command.id] ? { schedule: { cron: CALENDARS[command.id]!.cron, timeZone: CALENDARS[command.id]!.timeZone } } : { syncInterval: command.interval }), enabled: command.enabled, syncTimeout: command.timeout }))),
          () => {
            landed();
            this.checker.defined(command.id);
          },
          (error) => {
            landed();
            // Settled after any removal issued before it (same scheduler: in turn), so the host's
            // new definition counts from here, whether or not this write made it.
            this.checker.defined(command.id);
            if (error instanceof StorageError) this.#inDoubt.add(command.id);
          },
        );
        return;
      case 'remove': {
        const upserts = this.#upserts.get(command.id) ?? 0;
        // An upsert still on its way through another scheduler may land after this removal: the
        // host raced itself, and the record may legitimately come back.
        const racing = (this.#upsertsInFlight.get(command.id) ?? 0) > 0;
        // Through one scheduler (the others learn of it from the tombstone: a refused claim or the
        // change feed), or through all at once (config-driven replicas).
        const targets = command.everywhere ? this.schedulers : [sch!];
        this.#everRemoved.add(command.id);
        this.#host(label, () => Promise.all(targets.map((t) => t.removeFabric(command.id))), () => {
          if (racing) this.#inDoubt.add(command.id); // removed, or defined again: either is right
          else if ((this.#upserts.get(command.id) ?? 0) === upserts) this.removed.add(command.id);
        }, () => this.#removeFailed.add(command.id));
        return;
      }
      case 'syncNow':
        this.#host(label, () => sch!.syncNow(command.id));
        return;
      case 'pause':
        this.#host(label, () => sch!.pause(command.id === null ? undefined : { fabric: command.id }));
        return;
      case 'resume':
        this.#host(label, () => sch!.resume(command.id === null ? undefined : { fabric: command.id }));
        return;
      case 'start':
        this.#host(label, () => sch!.start());
        return;
      case 'stop': {
        const stop: PendingStop = { s: command.s % this.schedulers.length, deadline: this.clock.monotonic() + DRAIN_TIMEOUT + OPERATION_TIMEOUT, settled: false, reported: false };
        this.stops.push(stop);
        this.#host(label, () => sch!.stop({ inFlight: command.mode }).finally(() => (stop.settled = true)));
        return;
      }
      case 'exec':
        this.behaviours.set(command.id, command.b);
        return;
      case 'tick':
        await this.clock.tickAsync(command.ms);
        return;
      case 'step':
        this.clock.setSystemTime(this.clock.now() + command.ms);
        return;
      case 'faults':
        this.#faults(command.kind);
        return;
    }
  }

  #faults(kind: FaultKind): void {
    const s = this.storage;
    switch (kind) {
      case 'heal':
        return s.heal();
      case 'latency':
        return s.setFaults({ latencyRate: 0.5, minLatency: 0, maxLatency: 3_000 });
      case 'fail':
        return s.setFaults({ failRate: 0.3 });
      case 'hang':
        return s.setFaults({ hangRate: 0.2 });
      case 'mixed':
        return s.setFaults({ latencyRate: 0.3, minLatency: 0, maxLatency: 1_000, failRate: 0.1, hangRate: 0.05 });
    }
  }

  /** The checks run after every step. */
  async check(): Promise<void> {
    const now = this.clock.monotonic();
    for (const stop of this.stops) {
      if (!stop.settled && !stop.reported && now > stop.deadline) {
        stop.reported = true;
        this.#violation('bounded-stop', `s${stop.s}`, `stop() not settled ${Math.round(now - stop.deadline + DRAIN_TIMEOUT + OPERATION_TIMEOUT)} ms after it was called (bound: drainTimeout ${DRAIN_TIMEOUT} + operationTimeout ${OPERATION_TIMEOUT})`);
      }
    }
    // Removed stays removed: no record comes back without an upsert (read the inner storage, no faults).
    // With several schedulers the tombstone keeps a replica that still runs the fabric from
    // re-registering it (its recovery is for a storage that lost its data, not for a removal).
    for (const id of this.removed) {
      if (!this.#inDoubt.has(id) && (await this.inner.get(id))) {
        this.#violation('stays-removed', id, 'the record is back in storage after removeFabric resolved, with no upsert since');
        this.removed.delete(id);
      }
    }
  }

  violations(): Violation[] {
    return [...this.checker.violations, ...this.extra];
  }

  /**
   * Heals the storage, makes every executor succeed, lets time run for the longest interval plus
   * slack, and checks that every enabled, unpaused fabric in storage started within its interval
   * plus slack (or is running), provided some scheduler runs.
   */
  async settle(): Promise<void> {
    // First, with the faults still on: every stop() must settle within its bound.
    if (this.stops.some((s) => !s.settled)) {
      await this.clock.tickAsync(DRAIN_TIMEOUT + OPERATION_TIMEOUT + 1);
      await this.check();
    }
    this.storage.heal();
    this.behaviours.clear();
    if (this.verbose) this.trace.push(`@${this.clock.now() - T0} settle: storage healed, executors succeed`);
    // Runs already in flight keep their old behaviour (a slow one lasts 1.5 intervals, an
    // ignoring one 30 minutes unless a timeout cuts it): liveness is judged after they end.
    for (let waited = 0; waited < 40 * 60_000 && IDS.some((id) => this.checker.isRunning(id)); waited += 10_000) {
      await this.clock.tickAsync(10_000);
      this.storage.releaseHung();
    }
    const longest = Math.max(...INTERVALS) + LIVENESS_SLACK;
    for (let waited = 0; waited < longest; waited += 10_000) {
      await this.clock.tickAsync(10_000);
      this.storage.releaseHung();
    }
    await this.check();
    if (!this.schedulers.some((s) => s.running)) return;
    const control = await loadControl(this.inner);
    if (control.scheduler !== null) return;
    const { records } = await this.inner.list();
    const now = this.clock.monotonic();
    for (const r of records) {
      const d = r.definition;
      if (!IDS.includes(d.id as (typeof IDS)[number]) || !d.enabled || control.fabrics[d.id] !== undefined || this.#removeFailed.has(d.id) || this.removed.has(d.id) || this.#inDoubt.has(d.id)) continue;
      this.checker.checkLiveness([d.id], gapOf(d.id, d.syncInterval) + LIVENESS_SLACK, now);
    }
  }
}

/** Error classes a host call or an `error` event may legitimately carry under faults. */
function expectedError(error: unknown): boolean {
  return error instanceof SyncwheelError || error instanceof InjectedFaultError;
}

function summarize(value: unknown): string {
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value, (k, v) => (k === 'error' && v instanceof Error ? `${v.name}: ${v.message}` : v));
  } catch {
    return String(value);
  }
}

/**
 * Plays one sequence; throws {@link SimulationFailure} at the first step after which some
 * invariant is broken (or after the final settle and liveness check).
 */
export interface RunOptions {
  /** Print-ready trace of commands, host call outcomes and events in `SimulationFailure.trace`. */
  verbose?: boolean;
  /** Invariants not to check (to look past a known bug for the next one). */
  ignore?: readonly string[];
}

export async function runSequence(sequence: Sequence, options: RunOptions = {}): Promise<World> {
  const world = new World(sequence.config, options.verbose ?? false, options.ignore ?? []);
  const fail = () => {
    const v = world.violations();
    if (v.length > 0) throw new SimulationFailure(v, world.trace);
  };
  for (const command of sequence.commands) {
    await world.play(command);
    await world.check();
    fail();
  }
  await world.settle();
  fail();
  return world;
}

/** The fast-check property of a sequence type. */
export function sequenceProperty(type: SequenceType, options: RunOptions = {}) {
  return fc.asyncProperty(sequenceArb(type), async (sequence) => {
    await runSequence(sequence, options);
  });
}
