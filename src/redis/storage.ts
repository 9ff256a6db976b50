import type { Redis } from 'ioredis';
import { normalizeFabric, type Fabric } from '../definition.js';
import { CorruptStateError, InvalidOptionError, StorageError, toError } from '../errors.js';
import { isSyncStatus } from '../status.js';
import type { CorruptRecord, FabricRecord, FabricState, FabricWrite, Storage, WriteResult } from '../storage/types.js';
import { SCHEMA_VERSION, redisKeys, type RedisKeys } from './keys.js';
import { DELETE_SCRIPT, WRITE_SCRIPT, runScript, type ScriptClient } from './scripts.js';

/** The client surface RedisStorage uses: an ioredis `Redis` (or ioredis-mock). */
export type RedisStorageClient = Pick<Redis, 'eval' | 'evalsha' | 'hmget' | 'sscan' | 'pipeline' | 'get'>;

/** Options of {@link RedisStorage}. */
export interface RedisStorageOptions {
  /**
   * The host's ioredis client. RedisStorage never closes it and never attaches listeners to it:
   * give it `maxRetriesPerRequest` (1–3) and an `'error'` listener so that an unreachable Redis
   * fails calls quickly instead of queueing them (the scheduler then skips runs with an `error`
   * event).
   */
  client: RedisStorageClient;
  /**
   * Key prefix shared by every replica of one deployment; all keys live under `${prefix}:sw:`.
   * Required, non-empty.
   */
  prefix: string;
  /**
   * Ids fetched per round trip by `list()`.
   * @default 500
   */
  listBatchSize?: number;
}

const DEFAULTS = Object.freeze({ listBatchSize: 500 });

/** A UTF-16 surrogate that is not part of a pair (not encodable as UTF-8). */
const LONE_SURROGATE = /\p{Cs}/u;

type Raw = { v: string | null; t: string | null; d: string | null; type?: string };

/**
 * Storage on Redis: one hash per fabric (definition, state, version, fencing token), updated
 * only by compare-and-set Lua scripts. What one replica writes, every replica reads.
 *
 * @example
 * const storage = new RedisStorage({ client: new Redis({ maxRetriesPerRequest: 1 }), prefix: 'myapp' });
 */
export class RedisStorage implements Storage {
  readonly #client: RedisStorageClient;
  readonly #keys: RedisKeys;
  readonly #batch: number;
  #schemaChecked = false;

  constructor(options: RedisStorageOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    const { client, prefix } = options;
    if (client === null || typeof client !== 'object' || typeof (client as { evalsha?: unknown }).evalsha !== 'function') {
      throw new InvalidOptionError('client', 'an ioredis client', client);
    }
    if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidOptionError('prefix', 'a non-empty string', prefix);
    const batch = options.listBatchSize ?? DEFAULTS.listBatchSize;
    if (!Number.isSafeInteger(batch) || batch < 1) throw new InvalidOptionError('listBatchSize', 'a positive integer', options.listBatchSize);
    this.#client = client;
    this.#keys = redisKeys(prefix);
    this.#batch = batch;
  }

  /** The key names this storage uses. */
  get keys(): RedisKeys {
    return this.#keys;
  }

  async get(id: string): Promise<FabricRecord | undefined> {
    await this.#checkSchema('get');
    if (LONE_SURROGATE.test(id)) return undefined; // never stored (see write)
    let raw: Raw;
    try {
      const [v, t, d] = await this.#client.hmget(this.#keys.record(id), 'v', 't', 'd');
      raw = { v: v ?? null, t: t ?? null, d: d ?? null };
    } catch (error) {
      if (isWrongType(error)) throw new CorruptStateError(id, null, 'the key holds another Redis type than a hash');
      throw wrap('get', error, id);
    }
    if (raw.v === null && raw.t === null && raw.d === null) return undefined;
    const parsed = parseRecord(id, raw);
    if ('reason' in parsed) throw new CorruptStateError(id, raw, parsed.reason);
    return parsed;
  }

  async list(): Promise<{ records: FabricRecord[]; corrupt: CorruptRecord[] }> {
    await this.#checkSchema('list');
    const records: FabricRecord[] = [];
    const corrupt: CorruptRecord[] = [];
    const seen = new Set<string>();
    let cursor = '0';
    try {
      do {
        const [next, ids] = await this.#client.sscan(this.#keys.ids, cursor, 'COUNT', this.#batch);
        cursor = next;
        const fresh = ids.filter((id) => !seen.has(id));
        for (const id of fresh) seen.add(id);
        if (fresh.length === 0) continue;
        const pipe = this.#client.pipeline();
        for (const id of fresh) pipe.hmget(this.#keys.record(id), 'v', 't', 'd');
        const replies = (await pipe.exec()) ?? [];
        fresh.forEach((id, i) => {
          const [err, value] = replies[i] ?? [new Error('no reply'), null];
          if (err) {
            if (isWrongType(err)) corrupt.push({ id, raw: null, reason: 'the key holds another Redis type than a hash' });
            else throw err;
            return;
          }
          const [v, t, d] = (value as Array<string | null>) ?? [];
          if (v == null && t == null && d == null) return; // deleted meanwhile
          const raw: Raw = { v: v ?? null, t: t ?? null, d: d ?? null };
          const parsed = parseRecord(id, raw);
          if ('reason' in parsed) corrupt.push({ id, raw, reason: parsed.reason });
          else records.push(parsed);
        });
      } while (cursor !== '0');
    } catch (error) {
      throw wrap('list', error);
    }
    return { records, corrupt };
  }

  async write(id: string, value: FabricWrite, expectedVersion: number | null): Promise<WriteResult> {
    await this.#checkSchema('write');
    if (LONE_SURROGATE.test(id)) {
      // Redis keys are UTF-8: a lone surrogate would be sent as U+FFFD and ids would silently collide.
      throw new StorageError('write', `fabric id ${JSON.stringify(id.slice(0, 200))} holds a lone UTF-16 surrogate, which Redis keys cannot keep apart`, { fabricId: id });
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
    const mode = expectedVersion === null ? 'create' : 'update';
    let reply = await this.#write(id, mode, expectedVersion === null ? '' : String(expectedVersion), doc, fencingToken, '');
    if (reply.ok) return written(definition, value.state, reply.version, reply.token);
    let current = reply.current;
    if (current && 'corrupt' in current) {
      // An unreadable record: a create replaces it (the fabric starts over); an update cannot match.
      if (expectedVersion !== null) return { ok: false, current: undefined };
      const { raw } = current;
      reply = await this.#write(id, 'replace', raw.type !== undefined ? `type:${raw.type}` : raw.v ?? '', doc, fencingToken, raw.d ?? '');
      if (reply.ok) return written(definition, value.state, reply.version, reply.token);
      current = reply.current;
      if (current && 'corrupt' in current) return { ok: false, current: undefined };
    }
    return { ok: false, current };
  }

  async delete(id: string, expectedVersion?: number): Promise<boolean> {
    await this.#checkSchema('delete');
    if (LONE_SURROGATE.test(id)) return false; // never stored (see write)
    const k = this.#keys;
    try {
      const n = await runScript(this.#client as ScriptClient, DELETE_SCRIPT, [k.record(id), k.fence(id), k.ids], [expectedVersion === undefined ? '' : String(expectedVersion), id]);
      return Number(n) === 1;
    } catch (error) {
      throw wrap('delete', error, id);
    }
  }

  /** Nothing to release: the client belongs to the host. */
  async close(): Promise<void> {}

  async #write(
    id: string,
    mode: 'create' | 'update' | 'replace',
    expected: string,
    doc: string,
    token: number,
    observedDoc: string,
  ): Promise<{ ok: true; version: number; token: number } | { ok: false; current: FabricRecord | { corrupt: true; raw: Raw } | undefined }> {
    const k = this.#keys;
    let reply: unknown;
    try {
      reply = await runScript(this.#client as ScriptClient, WRITE_SCRIPT, [k.record(id), k.fence(id), k.ids, k.schema], [mode, expected, doc, String(token), id, observedDoc, String(SCHEMA_VERSION)]);
    } catch (error) {
      throw wrap('write', error, id);
    }
    if (!Array.isArray(reply)) throw new StorageError('write', `unexpected reply from the write script: ${String(reply)}`, { fabricId: id });
    if (Number(reply[0]) === 1) return { ok: true, version: Number(reply[1]), token: Number(reply[2]) };
    if (reply.length <= 1) return { ok: false, current: undefined };
    if (reply.length >= 5) return { ok: false, current: { corrupt: true, raw: { v: null, t: null, d: null, type: String(reply[4]) } } };
    const raw: Raw = { v: str(reply[1]), t: str(reply[2]), d: str(reply[3]) };
    const parsed = parseRecord(id, raw);
    return { ok: false, current: 'reason' in parsed ? { corrupt: true, raw } : parsed };
  }

  /** Refuses to work on data written by a newer schema (checked once per instance). */
  async #checkSchema(operation: string): Promise<void> {
    if (this.#schemaChecked) return;
    let stored: string | null;
    try {
      stored = await this.#client.get(this.#keys.schema);
    } catch (error) {
      throw wrap(operation, error);
    }
    if (stored !== null && Number(stored) > SCHEMA_VERSION) {
      throw new StorageError(operation, `the data under ${JSON.stringify(this.#keys.base)} has schema version ${stored}; this syncwheel reads up to ${SCHEMA_VERSION}`);
    }
    this.#schemaChecked = true;
  }
}

function str(v: unknown): string | null {
  return v === null || v === undefined || v === '' ? null : String(v);
}

function wrap(operation: string, error: unknown, fabricId?: string): StorageError {
  if (error instanceof StorageError) return error;
  const e = toError(error);
  return new StorageError(operation, e.message, fabricId === undefined ? { cause: e } : { cause: e, fabricId });
}

function isWrongType(error: unknown): boolean {
  return error instanceof Error && /WRONGTYPE/.test(error.message);
}

const STATE_NUMBERS = ['lastSyncAt', 'lastAttemptAt', 'anchorAt', 'lastSlotAt', 'nextSyncAt'] as const;

/** Parses and validates one stored hash; a reason string when it cannot be read. */
function parseRecord(id: string, raw: Raw): FabricRecord | { reason: string } {
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
  if (schema !== SCHEMA_VERSION) return { reason: `schema version ${JSON.stringify(schema)} is not ${SCHEMA_VERSION}` };
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
  return Object.freeze({ definition: fabric, state: Object.freeze(fabricState), version });
}

/**
 * The record a successful write stored. The definition is the normalized one that was serialized:
 * its metadata holds JSON values only (deep-frozen), so it equals what a later read parses.
 */
function written(definition: Fabric, state: FabricState, version: number, token: number): WriteResult {
  const record: FabricRecord = Object.freeze({ definition, state: Object.freeze({ ...state, fencingToken: token }), version });
  return { ok: true, record };
}
