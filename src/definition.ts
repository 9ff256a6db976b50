import { Duration } from 'luxon';
import { InvalidFabricError, InvalidOptionError } from './errors.js';

/** Longest fabric id accepted, in UTF-16 code units. Longer ids are refused. */
export const MAX_FABRIC_ID_LENGTH = 1024;

/** A fabric as the host defines it. */
export interface FabricDefinition {
  /** Unique, non-empty id (at most {@link MAX_FABRIC_ID_LENGTH} characters). */
  id: string;
  /** Milliseconds between slots (a positive integer), or an ISO-8601 duration such as `'PT1M'`. */
  syncInterval: number | string;
  /**
   * Whether the fabric is scheduled at all.
   * @default true
   */
  enabled?: boolean;
  /**
   * Milliseconds (or an ISO-8601 duration) after which a run is aborted and counted as failed.
   * `0` means no timeout.
   * @default the scheduler's `defaultSyncTimeout`
   */
  syncTimeout?: number | string;
  /**
   * Host data kept with the definition and handed back to the executor. Must be JSON-serializable
   * when a persistent storage is used.
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
  readonly syncInterval: number;
  readonly enabled: boolean;
  /** Milliseconds; 0 = no timeout. */
  readonly syncTimeout: number;
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
  /** Queue name ({@link DEFAULT_QUEUE} unless the definition names one). */
  readonly queue: string;
}

/**
 * Parses a duration given as milliseconds or as an ISO-8601 duration string (via luxon).
 * Returns NaN when the value is not a duration at all; range checks are the caller's.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const d = Duration.fromISO(value.trim());
    return d.isValid ? d.toMillis() : Number.NaN;
  }
  return Number.NaN;
}

const ALLOWED_KEYS = new Set(['id', 'syncInterval', 'enabled', 'syncTimeout', 'metadata', 'queue']);

/**
 * Validates a definition and fills in defaults. Throws {@link InvalidFabricError} saying what was
 * expected and what arrived.
 */
export function normalizeFabric(input: unknown, defaults: { syncTimeout: number }): Fabric {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidFabricError('fabric definition', 'an object', input);
  }
  const def = input as Record<string, unknown>;
  const id = def['id'];
  if (typeof id !== 'string' || id.length === 0) throw new InvalidFabricError('id', 'a non-empty string', id);
  if (id.length > MAX_FABRIC_ID_LENGTH) {
    throw new InvalidFabricError('id', `a string of at most ${MAX_FABRIC_ID_LENGTH} characters`, `${id.slice(0, 40)}… (${id.length} chars)`);
  }
  for (const key of Object.keys(def)) {
    if (!ALLOWED_KEYS.has(key)) throw new InvalidFabricError(key, `absent (known fields: ${[...ALLOWED_KEYS].join(', ')})`, def[key], id);
  }
  const rawInterval = def['syncInterval'];
  const syncInterval = parseDuration(rawInterval);
  if (!isPositiveMs(syncInterval)) {
    throw new InvalidFabricError('syncInterval', 'a positive integer number of ms or an ISO-8601 duration such as "PT1M"', rawInterval, id);
  }
  const enabled = def['enabled'] ?? true;
  if (typeof enabled !== 'boolean') throw new InvalidFabricError('enabled', 'a boolean', enabled, id);
  const rawTimeout = def['syncTimeout'];
  const syncTimeout = rawTimeout === undefined ? defaults.syncTimeout : parseDuration(rawTimeout);
  if (!isNonNegativeMs(syncTimeout)) {
    throw new InvalidFabricError('syncTimeout', 'a non-negative integer number of ms (0 = none) or an ISO-8601 duration', rawTimeout, id);
  }
  const metadata = def['metadata'];
  if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw new InvalidFabricError('metadata', 'a plain object', metadata, id);
  }
  const queue = def['queue'] ?? DEFAULT_QUEUE;
  if (!isQueueName(queue)) throw new InvalidFabricError('queue', `a non-empty string of at most ${MAX_QUEUE_NAME_LENGTH} characters`, queue, id);
  const fabric: Fabric = { id, syncInterval, enabled, syncTimeout, metadata: metadata as Fabric['metadata'], queue };
  if (metadata === undefined) delete (fabric as { metadata?: unknown }).metadata;
  return Object.freeze(fabric);
}

/** True for a valid queue name: a non-empty string of at most {@link MAX_QUEUE_NAME_LENGTH} characters. */
export function isQueueName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_QUEUE_NAME_LENGTH;
}

export function isPositiveMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms > 0;
}

export function isNonNegativeMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0;
}

/** Validates a millisecond option (or ISO-8601 duration) for `createScheduler` and adapters. */
export function durationOption(name: string, value: unknown, fallback: number, opts: { allowZero?: boolean; allowInfinity?: boolean } = {}): number {
  if (value === undefined) return fallback;
  if (opts.allowInfinity && value === Number.POSITIVE_INFINITY) return value;
  const ms = parseDuration(value);
  const ok = opts.allowZero ? isNonNegativeMs(ms) : isPositiveMs(ms);
  if (!ok) throw new InvalidOptionError(name, `a ${opts.allowZero ? 'non-negative' : 'positive'} integer number of ms${opts.allowInfinity ? ' or Infinity' : ''}`, value);
  return ms;
}
