import { createHash } from 'node:crypto';

/**
 * The Lua scripts syncwheel runs on Redis. Each one is atomic; each starts with a header
 * saying what KEYS, ARGV and the reply are. Numbers travel as decimal strings (`%.0f`), so
 * versions and tokens up to 2^53 keep every digit.
 *
 * No script needs `cjson`: the fencing token and the definition digest live in their own hash
 * fields, so the scripts never parse the JSON document. Scripts that touch one fabric use only
 * keys of its hash slot when run on Redis Cluster.
 */

/** A script with its SHA-1, for EVALSHA. */
export interface LuaScript {
  readonly name: string;
  readonly numberOfKeys: number;
  readonly lua: string;
  readonly sha: string;
}

function script(name: string, numberOfKeys: number, lua: string): LuaScript {
  return Object.freeze({ name, numberOfKeys, lua, sha: createHash('sha1').update(lua).digest('hex') });
}

/** Shared Lua: Redis time in ms (`nowMs`) and µs (`nowUs`), and effects replication on Redis 5 (scripts that read TIME, then write). */
const PRELUDE = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local nowT = redis.call('TIME')
-- (floats: ioredis-mock's Lua has 32-bit integers)
local nowMs = tonumber(nowT[1]) * 1000.0 + math.floor(tonumber(nowT[2]) / 1000)
local nowUs = tonumber(nowT[1]) * 1000000.0 + tonumber(nowT[2])
local function fmt(n) return string.format('%.0f', n) end
local function val(x)
  if type(x) == 'string' then return x end
  return nil
end
local function keytype(k)
  local t = redis.call('TYPE', k)
  if type(t) == 'table' then t = t['ok'] end
  return t
end
`;

/**
 * WRITE: compare-and-set of one fabric record, with fencing tokens that never repeat.
 *
 * KEYS[1] record hash `B:r:{T}:<id>`   KEYS[2] fence hash `B:f:{T}:<id>`
 * KEYS[3] the fabric's lock key (same hash slot; read only when ARGV[10] is not empty)
 * KEYS[4] the fabric's history list `B:h:{T}:<id>` (same slot; written only when ARGV[14] is not empty)
 * KEYS[5] id set `B:ids`  KEYS[6] schema `B:schema`  KEYS[7] change log `B:log`: single Redis
 *         only. On Redis Cluster the script gets 4 keys (one slot) and the caller writes the
 *         fleet keys in separate commands.
 * ARGV[1] mode: `create` (must not exist), `update` (version must equal ARGV[2]),
 *         `replace` (overwrite an unreadable record, only if it is still exactly what was read:
 *         ARGV[2] = its `v` field, ARGV[6] = its `d` field, or ARGV[2] = `type:<t>` for a key of
 *         the wrong Redis type)
 * ARGV[2] expected version (update) / observed `v` (replace); ignored for create
 * ARGV[3] JSON document {schema, definition, state}   ARGV[4] requested fencing token
 * ARGV[5] fabric id   ARGV[6] observed `d` (replace only)   ARGV[7] schema version
 * ARGV[8] definition digest (`h`)   ARGV[9] '1' when the caller marks the write as a claim
 * ARGV[10] lock holder value to prove ('' = no proof)   ARGV[11] claimer's time, epoch ms ('' = none)
 * ARGV[12] max clock skew, ms   ARGV[13] change log cap (MAXLEN ~)
 * ARGV[14] run history entry to push ('' = none)   ARGV[15] history entries to keep
 *
 * A write is a claim when its token is above the stored record's token (above 0 on a create) or
 * ARGV[9] says so. A claim's token is max(requested, fence + 1, record + 1, Redis time in µs): the
 * time floor applies to every claim, so a counter rolled back by a data loss is never reused.
 * A claim is refused when the lock value differs (`lease-lost`), when it would create a record
 * over a tombstone (`removed`), and answered {2, skew} when the claimer's time is off Redis time
 * by more than ARGV[12]. A non-claim update must carry the stored token and not be below the
 * fence; a non-claim create takes the fence token (hands nothing out) and clears a tombstone.
 * With no fence, a create's version starts from Redis ms time, so versions never repeat either.
 *
 * Returns {1, version, token, changed} on success (changed = 1 when the record was created or
 * its digest changed: a change log entry was, or must be, written); {2, skewMs} for clock skew;
 * {0, v, t, d, type, refused} otherwise (type '' for a hash, 'none' when absent, else the Redis
 * type; refused '' for a version conflict, or the refusal).
 */
export const WRITE_SCRIPT = script(
  'write',
  7,
  `${PRELUDE}
local rec, fence, lock = KEYS[1], KEYS[2], KEYS[3]
local mode, expected, doc, token, id, observedDoc, schema, digest = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local claimFlag, proof, at, maxSkew, logSize = ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[12]), ARGV[13]
local entry, keep = ARGV[14] or '', tonumber(ARGV[15] or '0') or 0
local f = redis.call('HMGET', fence, 'version', 'token', 'removed')
local hasFence = val(f[1]) ~= nil
local fenceVersion = tonumber(val(f[1]) or '0') or 0
local fenceToken = tonumber(val(f[2]) or '0') or 0
local removed = val(f[3])
-- HMGET alone tells a record from none (TYPE only for a key of another type): fewer commands per run
local rtype = 'none'
local curV, curT, curD, curH
local c = redis.pcall('HMGET', rec, 'v', 't', 'd', 'h')
if type(c) == 'table' and c['err'] then
  rtype = keytype(rec)
else
  curV, curT, curD, curH = val(c[1]), val(c[2]), val(c[3]), val(c[4])
  if curV or curT or curD or curH then rtype = 'hash' end
end
local function refuse(why)
  if rtype == 'none' then return {0, '', '', '', 'none', why} end
  if rtype ~= 'hash' then return {0, '', '', '', rtype, why} end
  return {0, curV or '', curT or '', curD or '', '', why}
end
local base = fenceVersion
local stored = 0
if mode == 'create' then
  if rtype ~= 'none' then return refuse('') end
elseif mode == 'update' then
  if rtype ~= 'hash' or curV ~= expected then return refuse('') end
  stored = tonumber(curT or '') or 0
  local n = tonumber(curV) or 0
  if n > base then base = n end
elseif mode == 'replace' then
  if rtype == 'none' then return refuse('') end
  if rtype == 'hash' then
    if (curV or '') ~= expected or (curD or '') ~= observedDoc then return refuse('') end
    local n = tonumber(curV) or 0
    if n > base then base = n end
  elseif expected ~= ('type:' .. rtype) then
    return refuse('')
  end
else
  return redis.error_reply('syncwheel: unknown write mode ' .. tostring(mode))
end
local claim = token > stored or claimFlag == '1'
if claim then
  if mode ~= 'update' and removed then return refuse('removed') end
  if at ~= '' then
    local skew = tonumber(at) - nowMs
    if math.abs(skew) > maxSkew then return {2, fmt(skew)} end
  end
  if proof ~= '' and val(redis.call('GET', lock)) ~= proof then return refuse('lease-lost') end
  if fenceToken + 1 > token then token = fenceToken + 1 end
  if stored + 1 > token then token = stored + 1 end
  if nowUs > token then token = nowUs end
elseif mode == 'update' then
  if token ~= stored or token < fenceToken then return refuse('') end
else
  token = fenceToken
end
if mode ~= 'update' and not hasFence and nowMs > base then base = nowMs end
if mode == 'replace' then redis.call('DEL', rec) end
local version = fmt(base + 1)
local tok = fmt(token)
redis.call('HSET', rec, 'v', version, 't', tok, 'h', digest, 'd', doc)
if token > fenceToken then
  redis.call('HSET', fence, 'version', version, 'token', tok)
else
  redis.call('HSET', fence, 'version', version)
end
if removed and not claim then
  redis.call('HDEL', fence, 'removed')
  redis.call('PERSIST', fence)
end
local changed = 0
if mode ~= 'update' or curH ~= digest then changed = 1 end
if entry ~= '' and keep >= 1 then
  redis.call('LPUSH', KEYS[4], entry)
  redis.call('LTRIM', KEYS[4], 0, keep - 1)
end
if #KEYS >= 7 then
  if mode ~= 'update' then
    redis.call('SADD', KEYS[5], id)
    redis.call('SET', KEYS[6], schema, 'NX')
  end
  if changed == 1 then redis.call('XADD', KEYS[7], 'MAXLEN', '~', logSize, '*', 'i', id, 'k', 'd') end
end
return {1, version, tok, changed}
`,
);

/**
 * DELETE: removes one fabric record and leaves a tombstone.
 *
 * KEYS[1] record hash   KEYS[2] fence hash   KEYS[3] history list (deleted with the record)
 * KEYS[4] id set `B:ids`   KEYS[5] change log `B:log`
 * (KEYS[4] and KEYS[5] on a single Redis only; on Redis Cluster the caller updates them after)
 * ARGV[1] expected version, or '' for "whatever it is"   ARGV[2] fabric id
 * ARGV[3] tombstone TTL, ms   ARGV[4] change log cap (MAXLEN ~)
 *
 * The fence keeps the highest version and token, gets `removed` = Redis ms and expires after
 * ARGV[3] (then the time floor of WRITE keeps tokens and versions rising).
 * Returns 1 when a record was deleted, 0 when there was none or its version did not match.
 */
export const DELETE_SCRIPT = script(
  'delete',
  5,
  `${PRELUDE}
local rec, fence = KEYS[1], KEYS[2]
local expected, id, ttl, logSize = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local rtype = keytype(rec)
if rtype == 'none' then
  if #KEYS >= 5 then redis.call('SREM', KEYS[4], id) end
  return 0
end
local curV, curT
if rtype == 'hash' then
  local c = redis.call('HMGET', rec, 'v', 't')
  curV, curT = val(c[1]), val(c[2])
end
if expected ~= '' and curV ~= expected then return 0 end
local f = redis.call('HMGET', fence, 'version', 'token')
local v, t = tonumber(curV or ''), tonumber(curT or '')
if v and v > (tonumber(val(f[1]) or '0') or 0) then redis.call('HSET', fence, 'version', fmt(v)) end
if t and t > (tonumber(val(f[2]) or '0') or 0) then redis.call('HSET', fence, 'token', fmt(t)) end
redis.call('HSET', fence, 'removed', fmt(nowMs))
redis.call('PEXPIRE', fence, ttl)
redis.call('DEL', rec, KEYS[3])
if #KEYS >= 5 then
  redis.call('SREM', KEYS[4], id)
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', logSize, '*', 'i', id, 'k', 'r')
end
return 1
`,
);

/**
 * MIGRATE_RECORD: writes one record moved from schema 1 into its schema-2 keys, unless it is
 * already there (a re-run); the fence keeps the highest version and token either layout had.
 *
 * KEYS[1] record hash   KEYS[2] fence hash
 * ARGV[1] version ('' = no record, only a fence)   ARGV[2] token   ARGV[3] digest   ARGV[4] document
 * ARGV[5] fence version   ARGV[6] fence token
 *
 * Returns 1 when a record was written, 0 otherwise.
 */
export const MIGRATE_RECORD_SCRIPT = script(
  'migrate-record',
  2,
  `
local function fmt(n) return string.format('%.0f', n) end
local rec, fence = KEYS[1], KEYS[2]
local v, t, h, d, fv, ft = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]) or 0, tonumber(ARGV[6]) or 0
local f = redis.call('HMGET', fence, 'version', 'token')
local curFv, curFt = tonumber(f[1] or '0') or 0, tonumber(f[2] or '0') or 0
local wrote = 0
if v ~= '' and redis.call('EXISTS', rec) == 0 then
  redis.call('HSET', rec, 'v', v, 't', t, 'h', h, 'd', d)
  wrote = 1
  if (tonumber(v) or 0) > fv then fv = tonumber(v) end
  if (tonumber(t) or 0) > ft then ft = tonumber(t) end
end
if fv > curFv then redis.call('HSET', fence, 'version', fmt(fv)) end
if ft > curFt then redis.call('HSET', fence, 'token', fmt(ft)) end
return wrote
`,
);

/**
 * HEARTBEAT: refreshes one replica's membership and returns the live members, using Redis'
 * clock so replicas with skewed clocks still agree on who is alive.
 *
 * KEYS[1] members zset `P:members`
 * ARGV[1] member id   ARGV[2] membership TTL, ms   ARGV[3] '1' to leave instead of refresh
 *
 * Returns the live member ids (expiry > now), in any order.
 */
export const HEARTBEAT_SCRIPT = script(
  'heartbeat',
  1,
  `
local key, member, ttl, leave = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now))
if leave == '1' then
  redis.call('ZREM', key, member)
else
  redis.call('ZADD', key, string.format('%d', now + ttl), member)
  redis.call('PEXPIRE', key, string.format('%d', ttl * 4))
end
return redis.call('ZRANGE', key, 0, -1)
`,
);

/** Minimal client surface the scripts need (ioredis `Redis`, `Cluster` or ioredis-mock). */
export interface ScriptClient {
  evalsha(sha: string, numberOfKeys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(lua: string, numberOfKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/**
 * Runs a script by SHA, loading it with EVAL when Redis does not know it yet. The number of keys
 * is `keys.length` (WRITE and DELETE take fewer keys on Redis Cluster).
 */
export async function runScript(client: ScriptClient, s: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && /NOSCRIPT/i.test(error.message)) return client.eval(s.lua, keys.length, ...keys, ...args);
    throw error;
  }
}
