/**
 * Fabric definitions: the host's shape, the validated `Fabric`, and `normalizeFabric`, which checks a
 * definition field by field (durations in duration.ts, metadata and guarded reads in metadata.ts).
 */
import { parseSchedule, type ScheduleInput } from './calendar/index.js';
import { checkDuration } from './duration.js';
import { guarded, invalid, readField, snapshotMetadata } from './metadata.js';

export { MAX_DURATION_MS, durationOption, isNonNegativeMs, isPositiveMs, parseDuration } from './duration.js';
export { MAX_METADATA_DEPTH, MAX_METADATA_SIZE } from './metadata.js';

/** How missed slots are handled (see the scheduler option of the same name). */
export type MissedRunPolicy = 'skip' | 'once' | 'all';

/** Where an interval fabric's slots lie: `'immediate'` from its first run, `'spread'` at a stable offset from the epoch. */
export type Phase = 'immediate' | 'spread';

/** Longest fabric id accepted, in UTF-16 code units. Longer ids are refused. */
export const MAX_FABRIC_ID_LENGTH = 1024;


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
