/**
 * How RedisStorage turns records into hash fields and back (schema 2): `v` version, `t` fencing
 * token, `h` digest of the definition, `d` JSON `{schema, definition, state}` (the state without
 * its token, which lives in `t` so the scripts never parse JSON).
 */
import { createHash } from 'node:crypto';
import { normalizeFabric, type Fabric } from '../definition.js';
import { StorageError, toError } from '../errors.js';
import { isSyncStatus } from '../status.js';
import type { FabricRecord, FabricState, FabricWrite, WriteResult } from '../storage/types.js';
import { SCHEMA_VERSION } from './keys.js';

/** The stored fields of one record as Redis returned them (`type` set when the key is not a hash). */
export interface RawRecord {
  v: string | null;
  t: string | null;
  d: string | null;
  type?: string;
}

/** A UTF-16 surrogate that is not part of a pair (not encodable as UTF-8). */
export const LONE_SURROGATE = /\p{Cs}/u;

/** What a write sends to Redis, checked and serialized. */
export interface EncodedWrite {
  readonly definition: Fabric;
  readonly token: number;
  /** JSON `{schema, definition, state}` (the state without `fencingToken`). */
  readonly doc: string;
  /** sha1 hex of the normalized definition's JSON: tells definition changes from state-only writes. */
  readonly digest: string;
}

/**
 * The digest stored in `h`: sha1 hex of the normalized definition JSON, and of a pending sync
 * request (`state.requestedAt`) when there is one, so that setting or clearing a request writes
 * a change log entry (the replica running the fabric learns of it) like a definition change.
 */
export function definitionDigest(definition: Fabric, requestedAt?: number): string {
  const hash = createHash('sha1').update(JSON.stringify(definition));
  if (requestedAt !== undefined) hash.update(`\nrequestedAt:${requestedAt}`);
  return hash.digest('hex');
}

/** Checks a write and serializes it; a typed {@link StorageError} for anything that cannot be stored as it is. */
export function encodeWrite(id: string, value: FabricWrite): EncodedWrite {
  if (LONE_SURROGATE.test(id)) {
    // Redis keys are UTF-8: a lone surrogate would be sent as U+FFFD and ids would silently collide.
    throw new StorageError('write', `fabric id ${JSON.stringify(id.slice(0, 200))} holds a lone UTF-16 surrogate, which Redis keys cannot keep apart`, { fabricId: id });
  }
  if (value === null || typeof value !== 'object' || value.state === null || typeof value.state !== 'object') {
    throw new StorageError('write', `Expected a {definition, state} object for fabric ${JSON.stringify(id.slice(0, 200))}`, { fabricId: id });
  }
  const { fencingToken, ...rest } = value.state;
  if (!Number.isSafeInteger(fencingToken) || fencingToken < 0) {
    throw new StorageError('write', `Expected state.fencingToken to be a non-negative integer, got ${String(fencingToken)}`, { fabricId: id });
  }
  // Metadata is held to the JSON-value rule by normalizeFabric (a no-op for the scheduler's own,
  // already normalized definitions), so what is stored reads back exactly as it was written.
  let definition: Fabric;
  try {
    definition = normalizeFabric(value.definition, { syncTimeout: 0 });
  } catch (error) {
    throw new StorageError('write', `fabric ${JSON.stringify(id)} has an invalid definition: ${toError(error).message}`, { cause: error, fabricId: id });
  }
  if (definition.id !== id) throw new StorageError('write', `definition.id ${JSON.stringify(definition.id)} does not match ${JSON.stringify(id)}`, { fabricId: id });
  let doc: string;
  try {
    doc = JSON.stringify({ schema: SCHEMA_VERSION, definition, state: rest });
  } catch (error) {
    throw new StorageError('write', `fabric ${JSON.stringify(id)} is not JSON-serializable: ${toError(error).message}`, { cause: error, fabricId: id });
  }
  return { definition, token: fencingToken, doc, digest: definitionDigest(definition, typeof rest.requestedAt === 'number' ? rest.requestedAt : undefined) };
}

const STATE_NUMBERS = ['lastSyncAt', 'lastAttemptAt', 'anchorAt', 'lastSlotAt', 'nextSyncAt'] as const;

/** Parses and validates one stored hash; a reason string when it cannot be read. */
export function parseRecord(id: string, raw: RawRecord, schemaVersion: number = SCHEMA_VERSION): FabricRecord | { reason: string } {
  const version = Number(raw.v);
  if (raw.v === null || !Number.isSafeInteger(version) || version < 1) return { reason: `bad version field ${JSON.stringify(raw.v)}` };
  const token = Number(raw.t);
  if (raw.t === null || !Number.isSafeInteger(token) || token < 0) return { reason: `bad fencing token field ${JSON.stringify(raw.t)}` };
  if (raw.d === null) return { reason: 'no document field' };
  let doc: unknown;
  try {
    doc = JSON.parse(raw.d);
  } catch (error) {
    return { reason: `document is not JSON (${toError(error).message})` };
  }
  if (doc === null || typeof doc !== 'object') return { reason: 'document is not an object' };
  const { schema, definition, state } = doc as { schema?: unknown; definition?: unknown; state?: unknown };
  if (schema !== schemaVersion) return { reason: `schema version ${JSON.stringify(schema)} is not ${schemaVersion}` };
  let fabric: Fabric;
  try {
    fabric = normalizeFabric(definition, { syncTimeout: 0 });
  } catch (error) {
    return { reason: `bad definition (${toError(error).message})` };
  }
  if (fabric.id !== id) return { reason: `definition id ${JSON.stringify(fabric.id)} does not match the key` };
  if (state === null || typeof state !== 'object') return { reason: 'state is not an object' };
  const s = state as Record<string, unknown>;
  if (!isSyncStatus(s['status'])) return { reason: `bad status ${JSON.stringify(s['status'])}` };
  for (const f of STATE_NUMBERS) {
    const v = s[f];
    if (v !== null && !(typeof v === 'number' && Number.isFinite(v))) return { reason: `bad state.${f} ${JSON.stringify(v)}` };
  }
  if (s['lastError'] !== null && typeof s['lastError'] !== 'string') return { reason: 'bad state.lastError' };
  const failures = s['consecutiveFailures'];
  if (typeof failures !== 'number' || !Number.isSafeInteger(failures) || failures < 0) return { reason: 'bad state.consecutiveFailures' };
  const fabricState: FabricState = {
    status: s['status'],
    lastSyncAt: s['lastSyncAt'] as number | null,
    lastAttemptAt: s['lastAttemptAt'] as number | null,
    lastError: s['lastError'] as string | null,
    consecutiveFailures: failures,
    anchorAt: s['anchorAt'] as number | null,
    lastSlotAt: s['lastSlotAt'] as number | null,
    nextSyncAt: s['nextSyncAt'] as number | null,
    fencingToken: token,
  };
  const requested = s['requestedAt'];
  if (requested !== undefined && requested !== null) {
    if (!(typeof requested === 'number' && Number.isFinite(requested))) return { reason: `bad state.requestedAt ${JSON.stringify(requested)}` };
    fabricState.requestedAt = requested;
  }
  return Object.freeze({ definition: fabric, state: Object.freeze(fabricState), version });
}

/**
 * The record a successful write stored. The definition is the normalized one that was serialized:
 * its metadata holds JSON values only (deep-frozen), so it equals what a later read parses.
 */
export function written(definition: Fabric, state: FabricState, version: number, token: number): WriteResult {
  const record: FabricRecord = Object.freeze({ definition, state: Object.freeze({ ...state, fencingToken: token }), version });
  return { ok: true, record };
}

/** A reply field as a string, `null` for nil or empty. */
export function str(v: unknown): string | null {
  return v === null || v === undefined || v === false || v === '' ? null : String(v);
}

/** Any failure as a {@link StorageError} of `operation` (kept as it is when it already is one). */
export function wrap(operation: string, error: unknown, fabricId?: string): StorageError {
  if (error instanceof StorageError) return error;
  const e = toError(error);
  return new StorageError(operation, e.message, fabricId === undefined ? { cause: e } : { cause: e, fabricId });
}

export function isWrongType(error: unknown): boolean {
  return error instanceof Error && /WRONGTYPE/.test(error.message);
}
