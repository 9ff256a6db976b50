/**
 * A Storage wrapper that injects faults (latency, hangs, failures, lost writes), deterministically
 * from a seeded PRNG or from explicit one-shot controls. For tests and simulations.
 */
import { systemClock, type Clock } from '../clock.js';
import { InvalidOptionError } from '../errors.js';
import type { ChangePage, FabricRecord, FabricWrite, Storage, WriteOptions, WriteResult } from '../storage/types.js';
import type { RunHistoryEntry } from '../storage/history.js';

/** The storage calls a fault can apply to. */
export type StorageOperation = 'get' | 'list' | 'write' | 'delete' | 'changes';

export const STORAGE_OPERATIONS: readonly StorageOperation[] = Object.freeze(['get', 'list', 'write', 'delete', 'changes']);

/** Fault rates and shapes; every field can be changed at run time with {@link FaultyStorage.setFaults}. */
export interface FaultSettings {
  /**
   * Probability (0..1) that a call waits `minLatency..maxLatency` ms on the clock before it reaches
   * the inner storage.
   * @default 0
   */
  latencyRate?: number;
  /**
   * Shortest injected latency, ms.
   * @default 0
   */
  minLatency?: number;
  /**
   * Longest injected latency, ms (inclusive).
   * @default 100
   */
  maxLatency?: number;
  /**
   * Probability (0..1) that a call never answers until {@link FaultyStorage.releaseHung} or
   * {@link FaultyStorage.heal} is called.
   * @default 0
   */
  hangRate?: number;
  /**
   * Probability (0..1) that a call rejects with an {@link InjectedFaultError} (without reaching
   * the inner storage).
   * @default 0
   */
  failRate?: number;
  /**
   * Probability (0..1) that a write whose compare-and-set would succeed is acknowledged
   * (`{ ok: true, record }`, version bumped) but not applied.
   * @default 0
   */
  lostWriteRate?: number;
  /**
   * Which operations the rates apply to (one-shot controls name their own).
   * @default ['get', 'list', 'write', 'delete', 'changes']
   */
  operations?: readonly StorageOperation[];
}

export interface FaultyStorageOptions {
  /**
   * Clock the injected latency waits on (a fake clock makes it deterministic).
   * @default systemClock
   */
  clock?: Clock;
  /**
   * Seed of the PRNG that decides which call gets which fault (32-bit integer).
   * @default 1
   */
  seed?: number;
  /**
   * Initial fault settings.
   * @default {} (no faults: every call passes through)
   */
  faults?: FaultSettings;
}

/** What has been injected so far. */
export interface FaultCounters {
  /** Calls made through the wrapper. */
  calls: number;
  /** Calls delayed by injected latency. */
  delayed: number;
  /** Calls that hung (released or not). */
  hung: number;
  /** Calls rejected with an injected failure. */
  failed: number;
  /** Writes acknowledged but not applied. */
  lostWrites: number;
}

/** The error an injected failure rejects with. */
export class InjectedFaultError extends Error {
  readonly operation: StorageOperation;
  constructor(operation: StorageOperation, id: string | undefined) {
    super(`Injected storage fault: ${operation}${id === undefined ? '' : ` ${JSON.stringify(id)}`}`);
    this.name = 'InjectedFaultError';
    this.operation = operation;
  }
}

type ResolvedFaults = Required<FaultSettings>;

const NO_FAULTS: ResolvedFaults = Object.freeze({
  latencyRate: 0,
  minLatency: 0,
  maxLatency: 100,
  hangRate: 0,
  failRate: 0,
  lostWriteRate: 0,
  operations: STORAGE_OPERATIONS,
});

const FAULT_KEYS: ReadonlySet<string> = new Set(Object.keys(NO_FAULTS));

/** One-shot fault kinds for {@link FaultyStorage.inject}. */
export type OneShotFault = 'fail' | 'hang' | 'lose' | 'delay';

/** A small, fast, seedable PRNG (mulberry32). Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the wrapper decided for one call. */
type Plan = { kind: 'pass' } | { kind: 'fail' } | { kind: 'hang' } | { kind: 'delay'; ms: number; lose: boolean } | { kind: 'lose' };

/**
 * Wraps any {@link Storage} and injects faults per call. When no fault applies to a call, it is
 * passed through untouched (a synchronous `write` of the inner storage stays synchronous).
 *
 * Every call draws the same number of random values whatever the settings, so the fault pattern
 * of a seed is stable while faults are switched on and off.
 *
 * @example
 * const storage = new FaultyStorage(new MemoryStorage(), { clock, seed: 42, faults: { failRate: 0.1 } });
 * storage.inject('hang', 1, ['write']); // the next write hangs until released
 * storage.heal();                       // faults off, hung calls proceed
 */
export class FaultyStorage implements Storage {
  readonly inner: Storage;
  readonly #clock: Clock;
  readonly #random: () => number;
  #faults: ResolvedFaults;
  readonly #oneShots: Array<{ kind: OneShotFault; operations: readonly StorageOperation[]; ms: number }> = [];
  readonly #hung = new Set<{ proceed: () => void; fail: () => void }>();
  readonly #counters: FaultCounters = { calls: 0, delayed: 0, hung: 0, failed: 0, lostWrites: 0 };
  /** The inner storage's change feed, with faults (present only when the inner storage has one). */
  readonly changes?: (cursor: string | null) => Promise<ChangePage>;
  /** The inner storage's setup warnings, passed through without faults (present only when it has them). */
  readonly warnings?: () => Promise<readonly Error[]>;
  /** The inner storage's run history, passed through without faults (present only when it has one). */
  readonly readHistory?: (id: string, limit: number) => Promise<RunHistoryEntry[]>;

  constructor(inner: Storage, options: FaultyStorageOptions = {}) {
    if (inner === null || typeof inner !== 'object') throw new InvalidOptionError('inner', 'a Storage', inner);
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    for (const key of Object.keys(options)) {
      if (key !== 'clock' && key !== 'seed' && key !== 'faults') throw new InvalidOptionError(key, 'absent (known options: clock, seed, faults)', (options as Record<string, unknown>)[key]);
    }
    const seed = options.seed ?? 1;
    if (!Number.isSafeInteger(seed)) throw new InvalidOptionError('seed', 'an integer', options.seed);
    const clock = options.clock ?? systemClock;
    if (clock === null || typeof clock !== 'object' || typeof clock.setTimeout !== 'function') throw new InvalidOptionError('clock', 'a Clock', options.clock);
    this.inner = inner;
    this.#clock = clock;
    const { changes, warnings, readHistory } = inner;
    if (typeof readHistory === 'function') this.readHistory = (id, limit) => readHistory.call(inner, id, limit);
    if (typeof changes === 'function') this.changes = (cursor) => this.#async('changes', undefined, () => changes.call(inner, cursor));
    if (typeof warnings === 'function') this.warnings = () => warnings.call(inner);
    this.#random = mulberry32(seed);
    this.#faults = resolveFaults(options.faults ?? {}, NO_FAULTS);
  }

  /** The current fault settings. */
  get faults(): Readonly<ResolvedFaults> {
    return this.#faults;
  }

  /** A copy of the counters of what was injected so far. */
  get counters(): FaultCounters {
    return { ...this.#counters };
  }

  /** Calls hanging right now. */
  get hungCount(): number {
    return this.#hung.size;
  }

  /** Changes some fault settings (the others are kept). Throws `InvalidOptionError` and changes nothing on bad input. */
  setFaults(faults: FaultSettings): void {
    this.#faults = resolveFaults(faults, this.#faults);
  }

  /**
   * Queues `count` one-shot faults for the next calls of `operations` (in order, before any rate
   * applies): `'fail'` rejects, `'hang'` hangs until released, `'lose'` loses a write, `'delay'`
   * waits `ms` on the clock.
   */
  inject(kind: OneShotFault, count = 1, operations: readonly StorageOperation[] = STORAGE_OPERATIONS, ms = 0): void {
    if (!['fail', 'hang', 'lose', 'delay'].includes(kind)) throw new InvalidOptionError('kind', "'fail', 'hang', 'lose' or 'delay'", kind);
    if (!Number.isSafeInteger(count) || count < 0) throw new InvalidOptionError('count', 'a non-negative integer', count);
    checkOperations('operations', operations);
    if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidOptionError('ms', 'a non-negative integer', ms);
    const ops = kind === 'lose' ? operations.filter((o) => o === 'write') : operations;
    for (let i = 0; i < count; i++) this.#oneShots.push({ kind, operations: ops, ms });
  }

  /** Lets every hung call go on: `'proceed'` reaches the inner storage, `'fail'` rejects. Returns how many. */
  releaseHung(mode: 'proceed' | 'fail' = 'proceed'): number {
    const hung = [...this.#hung];
    this.#hung.clear();
    for (const h of hung) (mode === 'proceed' ? h.proceed : h.fail)();
    return hung.length;
  }

  /** Turns every fault off, drops pending one-shots and lets hung calls proceed. */
  heal(): void {
    this.#faults = { ...NO_FAULTS, minLatency: this.#faults.minLatency, maxLatency: this.#faults.maxLatency, operations: this.#faults.operations };
    this.#oneShots.length = 0;
    this.releaseHung('proceed');
  }

  get(id: string): Promise<FabricRecord | undefined> {
    return this.#async('get', id, () => this.inner.get(id));
  }

  list(): ReturnType<Storage['list']> {
    return this.#async('list', undefined, () => this.inner.list());
  }

  delete(id: string, expectedVersion?: number): Promise<boolean> {
    return this.#async('delete', id, () => (expectedVersion === undefined ? this.inner.delete(id) : this.inner.delete(id, expectedVersion)));
  }

  write(id: string, value: FabricWrite, expectedVersion: number | null, options?: WriteOptions): WriteResult | Promise<WriteResult> {
    const plan = this.#plan('write');
    const apply = () => (options === undefined ? this.inner.write(id, value, expectedVersion) : this.inner.write(id, value, expectedVersion, options));
    if (plan.kind === 'pass') return apply();
    if (plan.kind === 'lose') return this.#lose(id, value, expectedVersion);
    if (plan.kind === 'delay' && plan.lose) return this.#sleep(plan.ms).then(() => this.#lose(id, value, expectedVersion));
    return this.#faulty('write', id, plan, apply);
  }

  close(): Promise<void> {
    return this.inner.close ? this.inner.close() : Promise.resolve();
  }

  #async<T>(op: StorageOperation, id: string | undefined, call: () => Promise<T>): Promise<T> {
    const plan = this.#plan(op);
    if (plan.kind === 'pass' || plan.kind === 'lose') return call();
    return this.#faulty(op, id, plan, call);
  }

  /** Applies a fail, hang or delay plan to `call`. */
  async #faulty<T>(op: StorageOperation, id: string | undefined, plan: Plan, call: () => T | Promise<T>): Promise<T> {
    if (plan.kind === 'fail') throw new InjectedFaultError(op, id);
    if (plan.kind === 'hang') {
      await new Promise<void>((resolve, reject) => {
        const entry = { proceed: () => resolve(), fail: () => reject(new InjectedFaultError(op, id)) };
        this.#hung.add(entry);
      });
    } else if (plan.kind === 'delay') await this.#sleep(plan.ms);
    return call();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimeout(resolve, ms));
  }

  /** Acknowledges a write without applying it (compare-and-set is still checked against the inner record). */
  async #lose(id: string, value: FabricWrite, expectedVersion: number | null): Promise<WriteResult> {
    const current = await this.inner.get(id);
    if ((current?.version ?? null) !== expectedVersion) return { ok: false, current };
    this.#counters.lostWrites++;
    const record: FabricRecord = Object.freeze({
      definition: value.definition,
      state: Object.freeze({ ...value.state }),
      version: (expectedVersion ?? 0) + 1,
    });
    return { ok: true, record };
  }

  /** Decides the fault of one call. Always draws four random values (stable pattern per seed). */
  #plan(op: StorageOperation): Plan {
    this.#counters.calls++;
    const r = [this.#random(), this.#random(), this.#random(), this.#random()] as const;
    const shot = this.#oneShots.findIndex((s) => s.operations.includes(op));
    if (shot >= 0) {
      const { kind, ms } = this.#oneShots.splice(shot, 1)[0]!;
      return this.#count(kind === 'delay' ? { kind, ms, lose: false } : { kind });
    }
    const f = this.#faults;
    if (!f.operations.includes(op)) return { kind: 'pass' };
    if (r[0] < f.hangRate) return this.#count({ kind: 'hang' });
    if (r[1] < f.failRate) return this.#count({ kind: 'fail' });
    const lose = op === 'write' && r[3] < f.lostWriteRate;
    if (r[2] < f.latencyRate) {
      const ms = f.minLatency + Math.floor(r[2] / Math.max(f.latencyRate, Number.MIN_VALUE) * (f.maxLatency - f.minLatency + 1));
      return this.#count({ kind: 'delay', ms: Math.min(ms, f.maxLatency), lose });
    }
    return lose ? this.#count({ kind: 'lose' }) : { kind: 'pass' };
  }

  #count(plan: Plan): Plan {
    if (plan.kind === 'hang') this.#counters.hung++;
    else if (plan.kind === 'fail') this.#counters.failed++;
    else if (plan.kind === 'delay') this.#counters.delayed++;
    return plan;
  }
}

function checkRate(name: string, value: unknown): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new InvalidOptionError(name, 'a number from 0 to 1', value);
}

function checkOperations(name: string, value: unknown): void {
  if (!Array.isArray(value) || !value.every((o) => (STORAGE_OPERATIONS as readonly unknown[]).includes(o))) {
    throw new InvalidOptionError(name, `an array of ${STORAGE_OPERATIONS.map((o) => `'${o}'`).join(', ')}`, value);
  }
}

/** Validates `faults` and merges them over `base`. */
function resolveFaults(faults: FaultSettings, base: ResolvedFaults): ResolvedFaults {
  if (faults === null || typeof faults !== 'object') throw new InvalidOptionError('faults', 'an object', faults);
  for (const key of Object.keys(faults)) {
    if (!FAULT_KEYS.has(key)) throw new InvalidOptionError(`faults.${key}`, `absent (known: ${[...FAULT_KEYS].join(', ')})`, (faults as Record<string, unknown>)[key]);
  }
  const out: ResolvedFaults = { ...base, ...stripUndefined(faults) };
  for (const k of ['latencyRate', 'hangRate', 'failRate', 'lostWriteRate'] as const) checkRate(`faults.${k}`, out[k]);
  for (const k of ['minLatency', 'maxLatency'] as const) {
    if (!Number.isSafeInteger(out[k]) || out[k] < 0) throw new InvalidOptionError(`faults.${k}`, 'a non-negative integer number of ms', out[k]);
  }
  if (out.minLatency > out.maxLatency) throw new InvalidOptionError('faults.minLatency', `at most faults.maxLatency (${out.maxLatency})`, out.minLatency);
  checkOperations('faults.operations', out.operations);
  return Object.freeze({ ...out, operations: Object.freeze([...out.operations]) });
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
