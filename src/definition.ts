import { parseSchedule, type ScheduleInput } from './calendar/index.js';
import { InvalidFabricError, InvalidOptionError, errorMessage } from './errors.js';

/** How missed slots are handled (see the scheduler option of the same name). */
export type MissedRunPolicy = 'skip' | 'once' | 'all';

/** Where an interval fabric's slots lie: `'immediate'` from its first run, `'spread'` at a stable offset from the epoch. */
export type Phase = 'immediate' | 'spread';

/** Longest fabric id accepted, in UTF-16 code units. Longer ids are refused. */
export const MAX_FABRIC_ID_LENGTH = 1024;

/**
 * Longest duration accepted anywhere (a fabric's `syncInterval` and `syncTimeout`, duration
 * options), ms: 36,500 days (`'P36500D'`, about 100 years). With it, every grid slot of every
 * fabric anchored inside the `Date` range (±8.64e15 ms) stays a safe integer.
 */
export const MAX_DURATION_MS = 36_500 * 86_400_000;

/** Deepest nesting of objects and arrays in `metadata`, the metadata object itself counting as 1. */
export const MAX_METADATA_DEPTH = 32;

/** Longest `metadata` accepted, in characters of its JSON text (`JSON.stringify(metadata).length`). */
export const MAX_METADATA_SIZE = 65_536;

/** A fabric as the host defines it. */
export interface FabricDefinition {
  /** Unique, non-empty id (at most {@link MAX_FABRIC_ID_LENGTH} characters). */
  id: string;
  /**
   * Milliseconds between slots (a positive integer), or an ISO-8601 duration such as `'PT1M'`
   * (weeks, days, hours, minutes, seconds; not months or years, whose length varies). At most
   * {@link MAX_DURATION_MS}. A definition has either `syncInterval` or `schedule`, never both.
   * @default none (required unless `schedule` is given)
   */
  syncInterval?: number | string;
  /**
   * A calendar schedule instead of an interval: a cron rule read in an IANA time zone, with
   * Vixie cron's daylight-saving rules (see docs/calendar.md), e.g.
   * `{ cron: '0 2 * * 1-5', timeZone: 'Europe/Berlin' }`.
   * @default none (required unless `syncInterval` is given)
   */
  schedule?: ScheduleInput;
  /**
   * Interval fabrics only: `'spread'` puts the slots at `offset + k * syncInterval` from the Unix
   * epoch, the offset a stable hash of the id, so fabrics added together do not fire together.
   * Refused with `schedule`.
   * @default the scheduler's `phase` ('immediate': slots from the first run on)
   */
  phase?: Phase;
  /**
   * Each run starts up to this long (ms or ISO-8601 duration) after its slot, by a deterministic
   * amount per (fabric, slot) in `[0, jitter)`, never at or past the next slot. Lateness is still
   * measured from the slot. 0 = none.
   * @default the scheduler's `jitter` (0)
   */
  jitter?: number | string;
  /**
   * This fabric's `missedRunPolicy` (overrides the scheduler's).
   * @default the scheduler's `missedRunPolicy`
   */
  missedRunPolicy?: MissedRunPolicy;
  /**
   * This fabric's `catchUpWindow` (ms or ISO-8601 duration; overrides the scheduler's): missed
   * slots older than this are dropped and reported (`sync:missed`, reason `'catch-up-window'`).
   * @default the scheduler's `catchUpWindow` (unlimited)
   */
  catchUpWindow?: number | string;
  /**
   * A fabric whose last success is older than this (ms or ISO-8601 duration) is `out_of_sync`
   * and `fabric:stale` is emitted.
   * @default 2 × `syncInterval`; with a `schedule`, no success since the last two occurrences
   */
  maxStaleness?: number | string;
  /**
   * Whether the fabric is scheduled at all.
   * @default true
   */
  enabled?: boolean;
  /**
   * Milliseconds (or an ISO-8601 duration) after which a run is aborted and counted as failed.
   * `0` means no timeout. At most {@link MAX_DURATION_MS}.
   * @default the scheduler's `defaultSyncTimeout`
   */
  syncTimeout?: number | string;
  /**
   * Host data kept with the definition and handed back to the executor. The same rule holds on
   * every storage: JSON values only (plain objects, arrays, strings, finite numbers, booleans,
   * `null`), at most {@link MAX_METADATA_DEPTH} levels deep and {@link MAX_METADATA_SIZE}
   * characters as JSON; `undefined`, functions, symbols, bigints, `Map`, `Set`, `Date`, class
   * instances, sparse arrays and cycles are refused with `InvalidFabricError` naming the path
   * (`metadata.tags[2]`). The scheduler keeps a deep-frozen copy taken at `upsertFabric`: changing
   * the object afterwards changes nothing. `-0` is stored as `0`.
   * @default undefined
   */
  metadata?: Readonly<Record<string, unknown>>;
  /**
   * Name of the queue the fabric's runs wait in (see the scheduler's `queues` option): each queue
   * has its own concurrency bound and priority, so slow work in one never starves another.
   * @default 'default'
   */
  queue?: string;
}

/** The queue a fabric belongs to when its definition names none. */
export const DEFAULT_QUEUE = 'default';

/** Longest queue name accepted. */
export const MAX_QUEUE_NAME_LENGTH = 100;

/** A validated definition: durations in milliseconds, defaults filled in. */
export interface Fabric {
  readonly id: string;
  /** Milliseconds between slots; null for a calendar fabric (see `schedule`). */
  readonly syncInterval: number | null;
  /** The calendar schedule (zone defaulted), absent for an interval fabric. */
  readonly schedule?: { readonly cron: string; readonly timeZone: string };
  /** `'spread'` when the fabric's grid is epoch-offset; absent otherwise ('immediate'). */
  readonly phase?: 'spread';
  /** Start delay bound per slot, ms; absent when 0. */
  readonly jitter?: number;
  /** Per-fabric policy; absent when the scheduler's applies. */
  readonly missedRunPolicy?: MissedRunPolicy;
  /** Per-fabric catch-up window, ms; absent when the scheduler's applies. */
  readonly catchUpWindow?: number;
  /** Per-fabric staleness bound, ms; absent when the default rule applies. */
  readonly maxStaleness?: number;
  readonly enabled: boolean;
  /** Milliseconds; 0 = no timeout. */
  readonly syncTimeout: number;
  /** A deep-frozen copy of the host's metadata (JSON values only). */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
  /** Queue name ({@link DEFAULT_QUEUE} unless the definition names one). */
  readonly queue: string;
}

/** Whether two normalized definitions agree on the fields that say when and how they run (metadata aside). */
export function sameTiming(a: Fabric, b: Fabric): boolean {
  return (
    a.syncInterval === b.syncInterval &&
    a.schedule?.cron === b.schedule?.cron &&
    a.schedule?.timeZone === b.schedule?.timeZone &&
    a.phase === b.phase &&
    a.jitter === b.jitter &&
    a.missedRunPolicy === b.missedRunPolicy &&
    a.catchUpWindow === b.catchUpWindow &&
    a.maxStaleness === b.maxStaleness
  );
}

// ---------------------------------------------------------------------------------------------
// Durations

const COMPONENT = '(\\d+(?:[.,]\\d+)?)';
/** `P[nY][nM][nW][nD][T[nH][nM][nS]]`, upper case only; Y and M are matched only to be refused by name. */
const ISO_DURATION = new RegExp(`^P(?:${COMPONENT}Y)?(?:${COMPONENT}M)?(?:${COMPONENT}W)?(?:${COMPONENT}D)?(?:T(?:${COMPONENT}H)?(?:${COMPONENT}M)?(?:${COMPONENT}S)?)?$`);
/** Milliseconds per unit of capture groups 3..7 (W, D, H, M, S). */
const UNIT_MS = [0n, 0n, 0n, 604_800_000n, 86_400_000n, 3_600_000n, 60_000n, 1_000n] as const;

/**
 * Strict ISO-8601 duration parser: `PnW`, `PnD`, `PTnH`, `PTnM`, `PTnS` and their combinations
 * (`'P1DT12H'`, `'PT1M30S'`, `'PT0.25S'`), upper case, no sign, no spaces. A decimal fraction is
 * allowed on the last component only and must come out as whole milliseconds. Weeks are 7 days
 * and days 24 hours (this is elapsed time, not calendar arithmetic).
 */
function parseIsoDuration(text: string): { ms: number } | { problem: string } {
  if (text.includes('-')) return { problem: 'negative durations and components are not allowed' };
  const m = ISO_DURATION.exec(text);
  if (m === null || text === 'P' || text.endsWith('T')) return { problem: 'not an ISO-8601 duration of the form PnW, PnDTnHnMnS' };
  if (m[1] !== undefined || m[2] !== undefined) return { problem: "months and years vary in length; use days, e.g. 'P30D'" };
  let last = 0;
  for (let i = 3; i <= 7; i++) if (m[i] !== undefined) last = i;
  let total = 0n;
  for (let i = 3; i <= 7; i++) {
    const part = m[i];
    if (part === undefined) continue;
    const [whole = '0', fraction = ''] = part.split(/[.,]/);
    if (fraction !== '' && i !== last) return { problem: 'only the last component may have a decimal fraction' };
    const unit = UNIT_MS[i]!;
    const scale = 10n ** BigInt(fraction.length);
    const fractionMs = BigInt(fraction || '0') * unit;
    if (fractionMs % scale !== 0n) return { problem: 'the duration must be a whole number of milliseconds' };
    total += BigInt(whole) * unit + fractionMs / scale;
  }
  return { ms: Number(total) };
}

/**
 * Parses a duration given as milliseconds or as an ISO-8601 duration string (`'PT1M'`, `'P1DT12H'`,
 * `'P2W'`; months and years are refused because their length varies). Returns NaN when the value
 * is not a duration at all; range checks are the caller's.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return Number.NaN;
  const parsed = parseIsoDuration(value);
  return 'ms' in parsed ? parsed.ms : Number.NaN;
}

/**
 * Checks a duration against `[min, MAX_DURATION_MS]`. Returns the milliseconds, or what to add to
 * the "expected" text of the error (possibly '') when the value is refused.
 */
function checkDuration(value: unknown, min: 0 | 1): number | { hint: string } {
  let ms: number;
  if (typeof value === 'string') {
    const parsed = parseIsoDuration(value);
    if ('problem' in parsed) return { hint: ` (${parsed.problem})` };
    ms = parsed.ms;
  } else ms = typeof value === 'number' ? value : Number.NaN;
  if (Number.isInteger(ms) && ms > MAX_DURATION_MS) return { hint: ` (at most ${MAX_DURATION_MS} ms, 'P36500D')` };
  if (!(Number.isSafeInteger(ms) && ms >= min)) return { hint: '' };
  return ms;
}

/** Validates a millisecond option (or ISO-8601 duration) for `createScheduler` and adapters. */
export function durationOption(name: string, value: unknown, fallback: number, opts: { allowZero?: boolean; allowInfinity?: boolean } = {}): number {
  if (value === undefined) return fallback;
  if (opts.allowInfinity && value === Number.POSITIVE_INFINITY) return value;
  const ms = checkDuration(value, opts.allowZero ? 0 : 1);
  if (typeof ms !== 'number') {
    throw new InvalidOptionError(name, `a ${opts.allowZero ? 'non-negative' : 'positive'} integer number of ms${opts.allowInfinity ? ' or Infinity' : ''}${ms.hint}`, value);
  }
  return ms;
}

export function isPositiveMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms > 0;
}

export function isNonNegativeMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0;
}

/** True for a valid queue name: a non-empty string of at most {@link MAX_QUEUE_NAME_LENGTH} characters. */
export function isQueueName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_QUEUE_NAME_LENGTH;
}

// ---------------------------------------------------------------------------------------------
// Definitions

const ALLOWED_KEYS = new Set(['id', 'syncInterval', 'schedule', 'phase', 'jitter', 'missedRunPolicy', 'catchUpWindow', 'maxStaleness', 'enabled', 'syncTimeout', 'metadata', 'queue']);

/** Definitions built by {@link normalizeFabric}: frozen, metadata deep-frozen, nothing left to check. */
const NORMALIZED = new WeakSet<object>();

/** True when `value` was returned by {@link normalizeFabric} (so it is valid and immutable). */
export function isNormalizedFabric(value: unknown): value is Fabric {
  return typeof value === 'object' && value !== null && NORMALIZED.has(value);
}

/**
 * Validates a definition and fills in defaults. Throws {@link InvalidFabricError} saying what was
 * expected and what arrived; every read of the input is guarded, so a throwing getter or Proxy trap
 * is refused the same way, naming the field. The result is frozen and holds a deep-frozen copy of
 * the metadata. A value this function returned is returned as it is.
 */
export function normalizeFabric(input: unknown, defaults: { syncTimeout: number; phase?: Phase }): Fabric {
  if (isNormalizedFabric(input)) return input;
  if (input === null || typeof input !== 'object' || guarded('fabric definition', undefined, () => Array.isArray(input))) {
    throw invalid('fabric definition', 'an object', input);
  }
  const def = input as Record<string, unknown>;
  const id = readField(def, 'id', undefined);
  if (typeof id !== 'string' || id.length === 0) throw invalid('id', 'a non-empty string', id);
  if (id.length > MAX_FABRIC_ID_LENGTH) {
    throw invalid('id', `a string of at most ${MAX_FABRIC_ID_LENGTH} characters`, id, undefined, `string ${JSON.stringify(id.slice(0, 40))}… (${id.length} chars)`);
  }
  for (const key of guarded('fabric definition', id, () => Object.keys(def))) {
    if (!ALLOWED_KEYS.has(key)) throw invalid(key, `absent (known fields: ${[...ALLOWED_KEYS].join(', ')})`, readField(def, key, id), id);
  }
  const rawInterval = readField(def, 'syncInterval', id);
  const rawSchedule = readField(def, 'schedule', id);
  let syncInterval: number | null = null;
  let schedule: { readonly cron: string; readonly timeZone: string } | undefined;
  if (rawSchedule !== undefined) {
    // A stored calendar fabric carries `syncInterval: null`.
    if (rawInterval !== undefined && rawInterval !== null) throw invalid('schedule', 'absent when syncInterval is given (a fabric has either syncInterval or schedule)', rawSchedule, id);
    const parsed = guarded('schedule', id, () => parseSchedule(rawSchedule, id));
    schedule = Object.freeze({ cron: parsed.cron, timeZone: parsed.timeZone });
  } else {
    const ms = checkDuration(rawInterval, 1);
    if (typeof ms !== 'number') {
      throw invalid('syncInterval', `a positive integer number of ms or an ISO-8601 duration such as "PT1M"${ms.hint}${rawInterval === undefined ? ' (or a schedule { cron, timeZone? } instead)' : ''}`, rawInterval, id);
    }
    syncInterval = ms;
  }
  const rawPhase = readField(def, 'phase', id);
  if (rawPhase !== undefined && rawPhase !== 'immediate' && rawPhase !== 'spread') throw invalid('phase', "'immediate' or 'spread'", rawPhase, id);
  if (rawPhase === 'spread' && schedule) throw invalid('phase', "absent or 'immediate' with a schedule (calendar slots are the rule's occurrences)", rawPhase, id);
  const phase = schedule ? undefined : (rawPhase ?? defaults.phase);
  const jitter = optionalDuration(def, 'jitter', id, 0);
  const catchUpWindow = optionalDuration(def, 'catchUpWindow', id, 0);
  const maxStaleness = optionalDuration(def, 'maxStaleness', id, 1);
  const missedRunPolicy = readField(def, 'missedRunPolicy', id);
  if (missedRunPolicy !== undefined && missedRunPolicy !== 'skip' && missedRunPolicy !== 'once' && missedRunPolicy !== 'all') {
    throw invalid('missedRunPolicy', "'skip', 'once' or 'all'", missedRunPolicy, id);
  }
  const enabled = readField(def, 'enabled', id) ?? true;
  if (typeof enabled !== 'boolean') throw invalid('enabled', 'a boolean', enabled, id);
  const rawTimeout = readField(def, 'syncTimeout', id);
  const syncTimeout = rawTimeout === undefined ? defaults.syncTimeout : checkDuration(rawTimeout, 0);
  if (typeof syncTimeout !== 'number') {
    throw invalid('syncTimeout', `a non-negative integer number of ms (0 = none) or an ISO-8601 duration${syncTimeout.hint}`, rawTimeout, id);
  }
  const rawMetadata = readField(def, 'metadata', id);
  const queue = readField(def, 'queue', id) ?? DEFAULT_QUEUE;
  if (!isQueueName(queue)) throw invalid('queue', `a non-empty string of at most ${MAX_QUEUE_NAME_LENGTH} characters`, queue, id);
  const fabric: { -readonly [K in keyof Fabric]: Fabric[K] } = { id, syncInterval, enabled, syncTimeout, queue };
  // Only fields that differ from the defaults are kept, so interval definitions stored before
  // these fields existed read back (and digest) exactly as they were written.
  if (schedule) fabric.schedule = schedule;
  if (phase === 'spread') fabric.phase = phase;
  if (jitter !== undefined && jitter > 0) fabric.jitter = jitter;
  if (missedRunPolicy !== undefined) fabric.missedRunPolicy = missedRunPolicy;
  if (catchUpWindow !== undefined) fabric.catchUpWindow = catchUpWindow;
  if (maxStaleness !== undefined) fabric.maxStaleness = maxStaleness;
  if (rawMetadata !== undefined) fabric.metadata = snapshotMetadata(rawMetadata, id);
  Object.freeze(fabric);
  NORMALIZED.add(fabric);
  return fabric;
}

/** Reads an optional duration field (ms or ISO-8601); undefined when absent. */
function optionalDuration(def: Record<string, unknown>, field: string, id: string, min: 0 | 1): number | undefined {
  const raw = readField(def, field, id);
  if (raw === undefined) return undefined;
  const ms = checkDuration(raw, min);
  if (typeof ms !== 'number') throw invalid(field, `a ${min === 0 ? 'non-negative' : 'positive'} integer number of ms or an ISO-8601 duration${ms.hint}`, raw, id);
  return ms;
}

// ---------------------------------------------------------------------------------------------
// Metadata: validated and copied in one walk

interface Walk {
  readonly fabricId: string;
  /** Objects and arrays on the path from the root to the current value, with their paths. */
  readonly stack: Array<{ value: object; path: string }>;
  /** Characters of JSON counted so far. */
  size: number;
  readonly maxSize: number;
}

/** Returns a deep-frozen copy of `value` if it is valid metadata; throws `InvalidFabricError` otherwise. */
function snapshotMetadata(value: unknown, fabricId: string): Readonly<Record<string, unknown>> {
  if (value === null || typeof value !== 'object' || guarded('metadata', fabricId, () => Array.isArray(value))) {
    throw invalid('metadata', 'a plain object', value, fabricId);
  }
  // Reserved ids (a leading NUL, refused by upsertFabric) are the library's own records, such as
  // the control record, whose size grows with what is paused: only host metadata is size-bounded.
  const maxSize = fabricId.charCodeAt(0) === 0 ? Number.POSITIVE_INFINITY : MAX_METADATA_SIZE;
  return copyJson(value, 'metadata', { fabricId, stack: [], size: 0, maxSize }) as Readonly<Record<string, unknown>>;
}

const JSON_SAFE = 'a JSON value (plain object, array, string, finite number, boolean or null)';
/** Characters JSON.stringify escapes (or may): without them a string's JSON is its length + 2. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function copyJson(value: unknown, path: string, w: Walk): unknown {
  switch (typeof value) {
    case 'string':
      count(w, NEEDS_ESCAPE.test(value) ? JSON.stringify(value).length : value.length + 2, path);
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw invalid(path, JSON_SAFE, value, w.fabricId);
      count(w, String(value).length, path);
      return value === 0 ? 0 : value; // -0 is stored as 0, as JSON would
    case 'boolean':
      count(w, value ? 4 : 5, path);
      return value;
    case 'object':
      if (value === null) {
        count(w, 4, path);
        return null;
      }
      return copyContainer(value, path, w);
    default:
      throw invalid(path, JSON_SAFE, value, w.fabricId, describeKind(value));
  }
}

function copyContainer(value: object, path: string, w: Walk): unknown {
  const ancestor = w.stack.find((a) => a.value === value);
  if (ancestor) throw invalid(path, `${JSON_SAFE} without cycles`, value, w.fabricId, `a reference back to ${ancestor.path}`);
  if (w.stack.length >= MAX_METADATA_DEPTH) {
    throw invalid(path, `nested at most ${MAX_METADATA_DEPTH} levels deep (metadata itself is level 1)`, value, w.fabricId, `level ${w.stack.length + 1}`);
  }
  const { isArray, keys } = guarded(path, w.fabricId, () => inspectContainer(value, path, w.fabricId));
  w.stack.push({ value, path });
  const src = value as Record<string, unknown>;
  let copy: unknown[] | Record<string, unknown>;
  if (isArray) {
    const out: unknown[] = [];
    for (let i = 0; i < keys.length; i++) out.push(copyJson(readField(src, String(i), w.fabricId, `${path}[${i}]`), `${path}[${i}]`, w));
    count(w, 2 + Math.max(0, keys.length - 1), path);
    copy = out;
  } else {
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const at = `${path}${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`;
      const v = copyJson(readField(src, key, w.fabricId, at), at, w);
      count(w, (NEEDS_ESCAPE.test(key) ? JSON.stringify(key).length : key.length + 2) + 2, at); // key, colon, comma
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
    }
    count(w, keys.length === 0 ? 2 : 1, path); // braces; the last comma counted above
    copy = out;
  }
  w.stack.pop();
  return Object.freeze(copy);
}

/** Checks that `value` is a plain object or a dense plain array with nothing JSON would drop; returns its keys. */
function inspectContainer(value: object, path: string, fabricId: string): { isArray: boolean; keys: string[] } {
  const proto: unknown = Object.getPrototypeOf(value);
  const isArray = Array.isArray(value);
  // A root prototype (Object.prototype or null), or Array.prototype, of this realm or another.
  const plain = isArray ? Array.isArray(proto) : proto === null || proto === Object.prototype || (Object.getPrototypeOf(proto) === null && Object.prototype.toString.call(value) === '[object Object]' && (proto as { constructor?: { name?: unknown } }).constructor?.name === 'Object');
  if (!plain) throw invalid(path, JSON_SAFE, value, fabricId, describeKind(value));
  const symbols = Object.getOwnPropertySymbols(value);
  if (symbols.length > 0) throw invalid(path, `${JSON_SAFE} with string keys only`, value, fabricId, `an ${isArray ? 'array' : 'object'} with the symbol key ${String(symbols[0])}`);
  const keys = Object.keys(value);
  const names = Object.getOwnPropertyNames(value);
  if (isArray) {
    const length = (value as unknown[]).length;
    for (let i = 0; i < length; i++) {
      if (keys[i] !== String(i)) throw invalid(`${path}[${i}]`, JSON_SAFE, undefined, fabricId, 'a hole (sparse array)');
    }
    if (keys.length !== length || names.length !== length + 1) {
      const extra = names.find((n) => n !== 'length' && !(String(Number(n)) === n && Number(n) < length)) ?? '?';
      throw invalid(path, 'an array holding only its elements', value, fabricId, `an array with the extra property ${JSON.stringify(extra)}`);
    }
  } else if (names.length !== keys.length) {
    const hidden = names.find((n) => !keys.includes(n)) ?? '?';
    throw invalid(path, `${JSON_SAFE} with enumerable properties only`, value, fabricId, `an object with the non-enumerable property ${JSON.stringify(hidden)}`);
  }
  return { isArray, keys: isArray ? keys.slice(0, (value as unknown[]).length) : keys };
}

function count(w: Walk, chars: number, path: string): void {
  w.size += chars;
  if (w.size > w.maxSize) {
    throw invalid('metadata', `at most ${MAX_METADATA_SIZE} characters as JSON`, undefined, w.fabricId, `more than ${MAX_METADATA_SIZE} (the limit was passed at ${path})`);
  }
}

/** What kind of non-JSON value arrived: 'a Map', 'an instance of Foo', 'a function', 'undefined'. */
function describeKind(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `a bigint (${value}n)`;
  if (typeof value === 'symbol') return `a symbol (${String(value)})`;
  if (typeof value === 'function') return 'a function';
  try {
    const tag = Object.prototype.toString.call(value).slice(8, -1);
    if (tag !== 'Object') return `a ${tag}`;
    const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return typeof ctor === 'string' && ctor !== '' ? `an instance of ${ctor}` : 'an object with a non-plain prototype';
  } catch {
    return 'an object that cannot be inspected';
  }
}

// ---------------------------------------------------------------------------------------------
// Guards: no read of the input may throw anything but InvalidFabricError

/** Reads `obj[key]`; a throwing getter or trap becomes `InvalidFabricError` naming `field`. */
function readField(obj: Record<string, unknown>, key: string, fabricId: string | undefined, field = key): unknown {
  try {
    return obj[key];
  } catch (error) {
    throw invalid(field, 'a readable value', undefined, fabricId, `a getter or Proxy trap that threw: ${errorMessage(error)}`);
  }
}

/** Runs `fn` (which inspects the input); anything it throws other than `InvalidFabricError` is refused as `field`. */
function guarded<T>(field: string, fabricId: string | undefined, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof InvalidFabricError) throw error;
    throw invalid(field, 'an object that can be inspected', undefined, fabricId, `one whose inspection threw (a Proxy trap?): ${errorMessage(error)}`);
  }
}

/**
 * Builds an `InvalidFabricError`; `got` replaces the default description of the value (which can
 * only say "an object"). Never throws, whatever `value` is (a revoked Proxy included).
 */
function invalid(field: string, expected: string, value: unknown, fabricId?: string, got?: string): InvalidFabricError {
  let error: InvalidFabricError;
  try {
    error = new InvalidFabricError(field, expected, value, fabricId);
  } catch {
    error = new InvalidFabricError(field, expected, undefined, fabricId);
    Object.defineProperty(error, 'value', { value, enumerable: true });
    got ??= 'a value that cannot be inspected';
  }
  if (got !== undefined) {
    error.message = `Expected ${field} to be ${expected}, got ${got}${fabricId !== undefined ? ` (fabric ${JSON.stringify(fabricId.length > 200 ? `${fabricId.slice(0, 200)}…(${fabricId.length} chars)` : fabricId)})` : ''}`;
  }
  return error;
}
