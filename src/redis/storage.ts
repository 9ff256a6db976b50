import type { Cluster, Redis } from 'ioredis';
import { CorruptStateError, InvalidOptionError, StorageError } from '../errors.js';
import { decodeHistoryEntry, encodeHistoryEntry, type RunHistoryEntry } from '../storage/history.js';
import type { ChangePage, ClaimRefusal, CorruptRecord, FabricRecord, FabricWrite, ListPage, Storage, WriteOptions, WriteResult } from '../storage/types.js';
import { appendChange, readChanges, type ChangeLogClient } from './change-log.js';
import { ClockSkewError, RedisEvictionWarning } from './errors.js';
import { SCHEMA_VERSION, legacyKeys, redisKeys, type RedisKeys } from './keys.js';
import { LONE_SURROGATE, encodeWrite, isWrongType, parseRecord, str, wrap, written, type RawRecord } from './record-codec.js';
import { DELETE_SCRIPT, WRITE_SCRIPT, runScript, type ScriptClient } from './scripts.js';

/**
 * The client surface RedisStorage uses: an ioredis `Redis` (or ioredis-mock), or an ioredis
 * `Cluster` (detected by `isCluster === true`).
 */
export type RedisStorageClient = Pick<Redis, 'eval' | 'evalsha' | 'hmget' | 'sscan' | 'pipeline' | 'get' | 'lrange'> | Cluster;

/** Options of {@link RedisStorage}. */
export interface RedisStorageOptions {
  /**
   * The host's ioredis client (`Redis`, or `Cluster` for Redis Cluster). RedisStorage never
   * closes it and never attaches listeners to it: give it `maxRetriesPerRequest` (1–3) and an
   * `'error'` listener so that an unreachable Redis fails calls quickly instead of queueing them
   * (the scheduler then skips runs with an `error` event).
   */
  client: RedisStorageClient;
  /**
   * Key prefix shared by every replica of one deployment; keys live under `${encoded prefix}:sw:`
   * (see `redisKeys`). Required, non-empty; any characters (braces are encoded).
   */
  prefix: string;
  /**
   * Ids fetched per round trip by `list()`.
   * @default 500
   */
  listBatchSize?: number;
  /**
   * A claim whose claimer's time (`ClaimInfo.at`) differs from Redis' `TIME` by more than this
   * (ms) is refused with a {@link ClockSkewError}: a replica whose wall clock disagrees stands down.
   * `Infinity` turns the check off (tests on a fake clock; not for production).
   * @default 2000
   */
  maxClockSkew?: number;
  /**
   * How long a deleted fabric's tombstone (its fence hash with `removed`) lives, ms. While it
   * does, a claim that would re-create the record is refused (`refused: 'removed'`). Tokens and
   * versions keep rising after it expires (they are floored by Redis time).
   * @default 86_400_000
   */
  tombstoneTtl?: number;
  /**
   * Approximate cap of the change log stream (`XADD MAXLEN ~`). A replica that falls further
   * behind than this lists every record once.
   * @default 10_000
   */
  changeLogSize?: number;
  /**
   * Log entries read per `changes()` page (`more: true` when more wait).
   * @default 1_000
   */
  changePageSize?: number;
}

const DEFAULTS = Object.freeze({ listBatchSize: 500, maxClockSkew: 2_000, tombstoneTtl: 86_400_000, changeLogSize: 10_000, changePageSize: 1_000 });

/** What RedisStorage calls on its client (either kind). */
interface Conn extends ScriptClient, ChangeLogClient {
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  sscan(key: string, cursor: string, ...args: Array<string | number>): Promise<[string, string[]]>;
  get(key: string): Promise<string | null>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  sadd(key: string, ...members: string[]): Promise<number>;
  srem(key: string, ...members: string[]): Promise<number>;
  set(key: string, value: string, ...args: string[]): Promise<unknown>;
  info(section: string): Promise<string>;
  pipeline(): { hmget(key: string, ...fields: string[]): unknown; exec(): Promise<Array<[Error | null, unknown]> | null> };
  nodes?(role: string): Conn[];
  isCluster?: boolean;
}

type ScriptReply = { ok: true; version: number; token: number } | { ok: false; current: FabricRecord | { corrupt: true; raw: RawRecord } | undefined; refused?: ClaimRefusal };

/**
 * Storage on Redis (single server or Redis Cluster): one hash per fabric (definition, state,
 * version, fencing token, definition digest) and a fence hash keeping the highest version and
 * token ever handed out, updated only by compare-and-set Lua scripts that touch one hash slot.
 * Fencing tokens are unique and rising per fabric, whatever Redis loses (see docs/redis.md).
 *
 * @example
 * const storage = new RedisStorage({ client: new Redis({ maxRetriesPerRequest: 1 }), prefix: 'myapp' });
 */
export class RedisStorage implements Storage {
  readonly #client: Conn;
  readonly #cluster: boolean;
  readonly #prefix: string;
  readonly #keys: RedisKeys;
  readonly #batch: number;
  readonly #maxClockSkew: number;
  readonly #tombstoneTtl: number;
  readonly #logSize: number;
  readonly #pageSize: number;
  #schemaChecked = false;
  #schemaWritten = false;

  constructor(options: RedisStorageOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
    const { client, prefix } = options;
    if (client === null || typeof client !== 'object' || typeof (client as { evalsha?: unknown }).evalsha !== 'function') {
      throw new InvalidOptionError('client', 'an ioredis client', client);
    }
    if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidOptionError('prefix', 'a non-empty string', prefix);
    this.#batch = positiveInt('listBatchSize', options.listBatchSize, DEFAULTS.listBatchSize);
    this.#maxClockSkew = options.maxClockSkew === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : positiveInt('maxClockSkew', options.maxClockSkew, DEFAULTS.maxClockSkew);
    this.#tombstoneTtl = positiveInt('tombstoneTtl', options.tombstoneTtl, DEFAULTS.tombstoneTtl);
    this.#logSize = positiveInt('changeLogSize', options.changeLogSize, DEFAULTS.changeLogSize);
    this.#pageSize = positiveInt('changePageSize', options.changePageSize, DEFAULTS.changePageSize);
    this.#client = client as unknown as Conn;
    this.#cluster = (client as { isCluster?: unknown }).isCluster === true;
    this.#prefix = prefix;
    this.#keys = redisKeys(prefix);
  }

  /** The key names this storage uses. */
  get keys(): RedisKeys {
    return this.#keys;
  }

  async get(id: string): Promise<FabricRecord | undefined> {
    await this.#checkSchema('get');
    if (LONE_SURROGATE.test(id)) return undefined; // never stored (see write)
    let raw: RawRecord;
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
        if (fresh.length > 0) await this.#readInto(fresh, records, corrupt);
      } while (cursor !== '0');
    } catch (error) {
      throw wrap('list', error);
    }
    return { records, corrupt };
  }

  /**
   * A page of the listing (see {@link Storage.listPage}): one `SSCAN` step of the id set asking
   * for `limit` ids (Redis may answer a few more or fewer), then their records. The cursor is
   * SSCAN's. A record can come in two pages when the set is resized during the listing (SSCAN's
   * guarantee is "at least once"); the scheduler's load keeps the first.
   */
  async listPage(cursor: string | null, limit: number): Promise<ListPage> {
    if (cursor !== null && !/^[0-9]+$/.test(cursor)) throw new StorageError('list', `not a listing cursor of this storage: ${JSON.stringify(cursor)}`);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidOptionError('limit', 'a positive integer', limit);
    await this.#checkSchema('list');
    const records: FabricRecord[] = [];
    const corrupt: CorruptRecord[] = [];
    try {
      const [next, ids] = await this.#client.sscan(this.#keys.ids, cursor ?? '0', 'COUNT', limit);
      if (ids.length > 0) await this.#readInto([...new Set(ids)], records, corrupt);
      return { records, corrupt, cursor: next === '0' ? null : next };
    } catch (error) {
      throw wrap('list', error);
    }
  }

  /** Reads the records of `ids` into `records` (or `corrupt`); ids deleted meanwhile are left out. */
  async #readInto(ids: string[], records: FabricRecord[], corrupt: CorruptRecord[]): Promise<void> {
    for (const [id, reply] of await this.#readMany(ids)) {
      const [err, value] = reply;
      if (err) {
        if (isWrongType(err)) corrupt.push({ id, raw: null, reason: 'the key holds another Redis type than a hash' });
        else throw err;
        continue;
      }
      const [v, t, d] = (value as Array<string | null>) ?? [];
      if (v == null && t == null && d == null) continue; // deleted meanwhile
      const raw: RawRecord = { v: v ?? null, t: t ?? null, d: d ?? null };
      const parsed = parseRecord(id, raw);
      if ('reason' in parsed) corrupt.push({ id, raw, reason: parsed.reason });
      else records.push(parsed);
    }
  }

  /** `HMGET v t d` of each id: one pipeline on a single Redis; per-record commands on a cluster (no cross-slot pipelines). */
  async #readMany(ids: string[]): Promise<Array<[string, [Error | null, unknown]]>> {
    const fields = ['v', 't', 'd'];
    if (this.#cluster) {
      const settled = await Promise.allSettled(ids.map((id) => this.#client.hmget(this.#keys.record(id), ...fields)));
      return ids.map((id, i) => {
        const s = settled[i]!;
        return [id, s.status === 'fulfilled' ? [null, s.value] : [s.reason instanceof Error ? s.reason : new Error(String(s.reason)), null]];
      });
    }
    const pipe = this.#client.pipeline();
    for (const id of ids) pipe.hmget(this.#keys.record(id), ...fields);
    const replies = (await pipe.exec()) ?? [];
    return ids.map((id, i) => [id, replies[i] ?? [new Error('no reply'), null]]);
  }

  async write(id: string, value: FabricWrite, expectedVersion: number | null, options?: WriteOptions): Promise<WriteResult> {
    await this.#checkSchema('write');
    const w = encodeWrite(id, value);
    const claim = options?.claim;
    let at = '';
    if (claim !== undefined) {
      if (typeof claim.at !== 'number' || !Number.isFinite(claim.at)) throw new StorageError('write', `Expected claim.at to be a finite number, got ${String(claim.at)}`, { fabricId: id });
      at = String(Math.round(claim.at));
    }
    const proof = claim?.lease?.proof;
    if (proof !== undefined && (typeof proof.key !== 'string' || typeof proof.value !== 'string' || proof.value === '')) {
      throw new StorageError('write', 'Expected claim.lease.proof to be {key, value} strings', { fabricId: id });
    }
    if (proof !== undefined && proof.key !== this.#keys.lock(id)) {
      throw new StorageError('write', `the lease proof names lock key ${JSON.stringify(proof.key.slice(0, 300))}, not this fabric's ${JSON.stringify(this.#keys.lock(id).slice(0, 300))} (a lock of another prefix?)`, { fabricId: id });
    }
    const history = options?.history;
    const entry = history === undefined ? '' : encodeHistoryEntry(history.entry);
    const keep = history === undefined ? 0 : Math.max(1, Math.floor(Number(history.keep)) || 1);
    const call = (mode: 'create' | 'update' | 'replace', expected: string, observedDoc: string) =>
      this.#write(id, w, mode, expected, observedDoc, claim !== undefined, proof?.value ?? '', at, entry, keep);
    let reply = await call(expectedVersion === null ? 'create' : 'update', expectedVersion === null ? '' : String(expectedVersion), '');
    if (reply.ok) return written(w.definition, value.state, reply.version, reply.token);
    let current = reply.current;
    if (current && 'corrupt' in current) {
      // An unreadable record: a create replaces it (the fabric starts over); an update cannot match.
      if (expectedVersion !== null) return { ok: false, current: undefined };
      const { raw } = current;
      reply = await call('replace', raw.type !== undefined ? `type:${raw.type}` : raw.v ?? '', raw.d ?? '');
      if (reply.ok) return written(w.definition, value.state, reply.version, reply.token);
      current = reply.current;
      if (current && 'corrupt' in current) return { ok: false, current: undefined, ...(reply.refused ? { refused: reply.refused } : {}) };
    }
    return { ok: false, current, ...(reply.refused ? { refused: reply.refused } : {}) };
  }

  async delete(id: string, expectedVersion?: number): Promise<boolean> {
    await this.#checkSchema('delete');
    if (LONE_SURROGATE.test(id)) return false; // never stored (see write)
    const k = this.#keys;
    try {
      const args = [expectedVersion === undefined ? '' : String(expectedVersion), id, this.#tombstoneTtl, this.#logSize];
      if (!this.#cluster) return Number(await runScript(this.#client, DELETE_SCRIPT, [k.record(id), k.fence(id), k.history(id), k.ids, k.log], args)) === 1;
      const deleted = Number(await runScript(this.#client, DELETE_SCRIPT, [k.record(id), k.fence(id), k.history(id)], args)) === 1;
      // Fleet keys after the record: the ids set stays a superset of the records.
      if (deleted || expectedVersion === undefined) await this.#client.srem(k.ids, id);
      if (deleted) await appendChange(this.#client, k.log, id, 'removed', this.#logSize);
      return deleted;
    } catch (error) {
      throw wrap('delete', error, id);
    }
  }

  /**
   * The change feed (see `Storage.changes`), from the `B:log` stream. An idle poll costs one
   * Redis command. On Redis Cluster a log entry is written after its record, so a process that
   * dies in between leaves a change only a full listing finds.
   */
  async changes(cursor: string | null): Promise<ChangePage> {
    await this.#checkSchema('changes');
    try {
      return await readChanges(this.#client, this.#keys.log, cursor, this.#pageSize);
    } catch (error) {
      throw wrap('changes', error);
    }
  }

  /**
   * The fabric's newest `limit` run history entries, newest first (`LRANGE` of its history list;
   * see `Storage.readHistory`). Unreadable entries are left out.
   */
  async readHistory(id: string, limit: number): Promise<RunHistoryEntry[]> {
    await this.#checkSchema('readHistory');
    if (LONE_SURROGATE.test(id)) return [];
    const n = Math.floor(Number(limit));
    if (!(n >= 1)) return [];
    let raw: string[];
    try {
      raw = await this.#client.lrange(this.#keys.history(id), 0, n - 1);
    } catch (error) {
      if (isWrongType(error)) throw new CorruptStateError(id, null, 'the history key holds another Redis type than a list');
      throw wrap('readHistory', error, id);
    }
    const out: RunHistoryEntry[] = [];
    for (const s of raw) {
      const entry = decodeHistoryEntry(s);
      if (entry) out.push(entry);
    }
    return out;
  }

  /** A {@link RedisEvictionWarning} when a (master's) `maxmemory-policy` may evict syncwheel's keys; none when INFO is refused. */
  async warnings(): Promise<readonly Error[]> {
    const nodes = this.#cluster && typeof this.#client.nodes === 'function' ? this.#client.nodes('master') : [this.#client];
    const policies = new Set<string>();
    await Promise.all(
      nodes.map(async (node) => {
        try {
          const m = /^maxmemory_policy:(\S+)/m.exec(await node.info('memory'));
          if (m && (m[1]!.startsWith('allkeys') || m[1]!.startsWith('volatile'))) policies.add(m[1]!);
        } catch {
          // INFO refused (ACL, managed Redis): nothing to say
        }
      }),
    );
    return [...policies].sort().map((p) => new RedisEvictionWarning(p));
  }

  /** Nothing to release: the client belongs to the host. */
  async close(): Promise<void> {}

  async #write(id: string, w: ReturnType<typeof encodeWrite>, mode: 'create' | 'update' | 'replace', expected: string, observedDoc: string, claimFlag: boolean, proof: string, at: string, entry: string, keep: number): Promise<ScriptReply> {
    const k = this.#keys;
    const skewOff = this.#maxClockSkew === Number.POSITIVE_INFINITY;
    const args = [mode, expected, w.doc, String(w.token), id, observedDoc, String(SCHEMA_VERSION), w.digest, claimFlag ? '1' : '', proof, skewOff ? '' : at, skewOff ? 0 : this.#maxClockSkew, this.#logSize, entry, keep];
    let reply: unknown;
    try {
      if (this.#cluster) {
        // Fleet keys live in other slots: the ids set first (a superset of the records), the log after.
        if (mode !== 'update') await this.#client.sadd(k.ids, id);
        if (!this.#schemaWritten) {
          await this.#client.set(k.schema, String(SCHEMA_VERSION), 'NX');
          this.#schemaWritten = true;
        }
        reply = await runScript(this.#client, WRITE_SCRIPT, [k.record(id), k.fence(id), k.lock(id), k.history(id)], args);
        if (Array.isArray(reply) && Number(reply[0]) === 1 && Number(reply[3]) === 1) await appendChange(this.#client, k.log, id, 'defined', this.#logSize);
      } else {
        reply = await runScript(this.#client, WRITE_SCRIPT, [k.record(id), k.fence(id), k.lock(id), k.history(id), k.ids, k.schema, k.log], args);
      }
    } catch (error) {
      throw wrap('write', error, id);
    }
    if (!Array.isArray(reply)) throw new StorageError('write', `unexpected reply from the write script: ${String(reply)}`, { fabricId: id });
    const status = Number(reply[0]);
    if (status === 1) return { ok: true, version: Number(reply[1]), token: Number(reply[2]) };
    if (status === 2) throw new ClockSkewError(id, Number(reply[1]), this.#maxClockSkew, "Redis'");
    const refusedRaw = str(reply[5]);
    const refused: ClaimRefusal | undefined = refusedRaw === 'lease-lost' || refusedRaw === 'removed' ? refusedRaw : undefined;
    const type = str(reply[4]);
    const extra: { refused?: ClaimRefusal } = refused ? { refused } : {};
    if (type === 'none') return { ok: false, current: undefined, ...extra };
    if (type !== null) return { ok: false, current: { corrupt: true, raw: { v: null, t: null, d: null, type } }, ...extra };
    const raw: RawRecord = { v: str(reply[1]), t: str(reply[2]), d: str(reply[3]) };
    const parsed = parseRecord(id, raw);
    return { ok: false, current: 'reason' in parsed ? { corrupt: true, raw } : parsed, ...extra };
  }

  /**
   * Refuses data written by a newer schema, and schema-1 (syncwheel 0.1) data not migrated yet
   * (checked once per instance).
   */
  async #checkSchema(operation: string): Promise<void> {
    if (this.#schemaChecked) return;
    const legacy = legacyKeys(this.#prefix);
    let stored: string | null;
    let old: string | null = null;
    try {
      stored = await this.#client.get(this.#keys.schema);
      if (stored === null && legacy.schema !== this.#keys.schema) old = await this.#client.get(legacy.schema);
    } catch (error) {
      throw wrap(operation, error);
    }
    if (stored !== null && Number(stored) > SCHEMA_VERSION) {
      throw new StorageError(operation, `the data under ${JSON.stringify(this.#keys.base)} has schema version ${stored}; this syncwheel reads up to ${SCHEMA_VERSION}`);
    }
    if ((stored !== null && Number(stored) < SCHEMA_VERSION) || old !== null) {
      throw new StorageError(
        operation,
        `the data under ${JSON.stringify(legacy.base)} was written by syncwheel 0.1 (schema ${stored ?? old}); stop every replica and run \`npx syncwheel migrate --prefix ${shellQuote(this.#prefix)} --redis <url>\` (a dry run: it prints what would move; add --yes to migrate) or migrateRedisData() from syncwheel/redis, once`,
      );
    }
    this.#schemaChecked = true;
  }
}

function positiveInt(name: string, value: unknown, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InvalidOptionError(name, 'a positive integer', value);
  return v;
}

function shellQuote(s: string): string {
  return /^[\w:./@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
