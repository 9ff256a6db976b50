/** Fabric metadata (validated and deep-copied in one walk) and the guarded reads every definition check uses. */
import { InvalidFabricError, errorMessage } from './errors.js';

/** Deepest nesting of objects and arrays in `metadata`, the metadata object itself counting as 1. */
export const MAX_METADATA_DEPTH = 32;

/** Longest `metadata` accepted, in characters of its JSON text (`JSON.stringify(metadata).length`). */
export const MAX_METADATA_SIZE = 65_536;

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
export function snapshotMetadata(value: unknown, fabricId: string): Readonly<Record<string, unknown>> {
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
export function readField(obj: Record<string, unknown>, key: string, fabricId: string | undefined, field = key): unknown {
  try {
    return obj[key];
  } catch (error) {
    throw invalid(field, 'a readable value', undefined, fabricId, `a getter or Proxy trap that threw: ${errorMessage(error)}`);
  }
}

/** Runs `fn` (which inspects the input); anything it throws other than `InvalidFabricError` is refused as `field`. */
export function guarded<T>(field: string, fabricId: string | undefined, fn: () => T): T {
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
export function invalid(field: string, expected: string, value: unknown, fabricId?: string, got?: string): InvalidFabricError {
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
