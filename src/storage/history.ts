/**
 * Run history: what one finished run leaves in the storage (see `WriteOptions.history` and
 * `Storage.readHistory`), and the compact string both built-in storages keep it as.
 *
 * The encoding (version 1) is a short string, not JSON: eight numbers in base 36, comma-separated
 * (`scheduledAt`, then `startedAt`, `finishedAt` and `durationMs` as offsets, the fencing token,
 * the trigger, the outcome-and-reason code, the length of `replica`), then `replica` and the
 * error message, unseparated (the length says where one ends). About 45 bytes plus the error.
 */
import type { FailureReason, SyncTrigger } from '../events.js';

/** One finished run of a fabric, as `scheduler.getFabricHistory` answers it. */
export interface RunHistoryEntry {
  /** The slot the run served (a retry: its failed slot; a manual run: when it was asked for), epoch ms. */
  readonly scheduledAt: number;
  /** When its executor started, epoch ms. */
  readonly startedAt: number;
  /** When its outcome was known, epoch ms. */
  readonly finishedAt: number;
  readonly trigger: SyncTrigger;
  readonly outcome: 'succeeded' | 'failed';
  /** Why it failed (as in `SyncResult`); absent when it succeeded. */
  readonly reason?: FailureReason;
  /** The error's message (at most {@link HISTORY_ERROR_MAX} characters); absent when it succeeded. */
  readonly error?: string;
  /** Elapsed time by the monotonic clock, ms. */
  readonly durationMs: number;
  /** The run's fencing token. */
  readonly fencingToken: number;
  /** The replica that ran it, when the single-flight names one (`SingleFlight.replicaId`). */
  readonly replica?: string;
}

/** What a write appends to the fabric's history (see `WriteOptions.history`). */
export interface HistoryAppend {
  readonly entry: RunHistoryEntry;
  /** Entries to keep, newest first, after appending (>= 1). */
  readonly keep: number;
}

/** Longest error message kept in a history entry (longer ones are cut, with an ellipsis). */
export const HISTORY_ERROR_MAX = 500;

/** Triggers by code (a trigger not listed is kept by name). */
const TRIGGERS: readonly SyncTrigger[] = ['schedule', 'catch-up', 'retry', 'manual'];
/** Outcome code 0: succeeded; 1 + index: failed for that reason. */
const REASONS: readonly FailureReason[] = ['error', 'timeout', 'aborted', 'lock-lost'];

/** The compact string of an entry (see the module's header). */
export function encodeHistoryEntry(e: RunHistoryEntry): string {
  const replica = e.replica ?? '';
  const error = e.outcome === 'failed' ? (e.error ?? '') : '';
  const code = e.outcome === 'succeeded' ? 0 : 1 + Math.max(0, REASONS.indexOf(e.reason ?? 'error'));
  // Built with join: one flat string (~70 B on the heap for a success entry). A template
  // literal of this many pieces is a tree of them in V8 until something flattens it (~500 B).
  return [b36(e.scheduledAt), b36(e.startedAt - e.scheduledAt), b36(e.finishedAt - e.startedAt), b36(e.durationMs), b36(e.fencingToken), triggerCode(e.trigger), code, replica.length.toString(36), replica + error].join(',');
}

/** Reads a string {@link encodeHistoryEntry} made; `undefined` when it is not one. */
export function decodeHistoryEntry(s: string): RunHistoryEntry | undefined {
  if (typeof s !== 'string') return undefined;
  let at = 0;
  const nums: number[] = [];
  let trigger: SyncTrigger | undefined;
  for (let i = 0; i < 8; i++) {
    const comma = s.indexOf(',', at);
    if (comma < 0) return undefined;
    const field = s.slice(at, comma);
    at = comma + 1;
    if (i === 5) {
      trigger = /^\d$/.test(field) ? TRIGGERS[Number(field)] : field === '' ? undefined : (field as SyncTrigger);
      continue;
    }
    const n = parseInt(field, 36);
    if (!Number.isSafeInteger(n) || !/^-?[0-9a-z]+$/.test(field)) return undefined;
    nums.push(n);
  }
  const [scheduledAt, dStart, dFinish, durationMs, fencingToken, code, replicaLen] = nums as [number, number, number, number, number, number, number];
  if (trigger === undefined || code < 0 || code > REASONS.length || replicaLen < 0 || at + replicaLen > s.length) return undefined;
  const replica = s.slice(at, at + replicaLen);
  const startedAt = scheduledAt + dStart;
  const entry: { -readonly [K in keyof RunHistoryEntry]: RunHistoryEntry[K] } = {
    scheduledAt,
    startedAt,
    finishedAt: startedAt + dFinish,
    trigger,
    outcome: code === 0 ? 'succeeded' : 'failed',
    durationMs,
    fencingToken,
  };
  if (code > 0) {
    entry.reason = REASONS[code - 1]!;
    entry.error = s.slice(at + replicaLen);
  }
  if (replicaLen > 0) entry.replica = replica;
  return entry;
}

/**
 * MemoryStorage's history of one fabric: ONE string of framed entries, newest first, each
 * `<length in base 36>:<encoded entry>`. A string per entry would cost a header and an array slot
 * each (~78 B for a 34-character entry, measured); one flat string costs its characters.
 * Appending copies the kept entries (about 1 KB at 20): cheap next to a run.
 */
export function pushHistory(log: string, h: HistoryAppend): string {
  const keep = Number.isSafeInteger(h.keep) && h.keep > 0 ? h.keep : 1;
  const entry = encodeHistoryEntry(h.entry);
  // the end of the newest keep - 1 entries already there
  let at = 0;
  for (let i = 0; i < keep - 1 && at < log.length; i++) {
    // the entry's length in base 36 up to its ':', read without slicing (no allocation per entry)
    let len = 0;
    let c = log.charCodeAt(at);
    while (c !== 58 /* ':' */ && at < log.length) {
      len = len * 36 + (c <= 57 ? c - 48 : c - 87);
      c = log.charCodeAt(++at);
    }
    if (at >= log.length) break;
    at += 1 + len;
  }
  const next = `${entry.length.toString(36)}:${entry}${log.slice(0, Math.min(at, log.length))}`;
  next.charCodeAt(0); // flattens it (V8): a concatenation is a tree of its pieces until then
  return next;
}

/** The newest `limit` entries of a {@link pushHistory} log, newest first. */
export function readHistoryLog(log: string, limit: number): RunHistoryEntry[] {
  const out: RunHistoryEntry[] = [];
  let at = 0;
  while (at < log.length && out.length < limit) {
    const colon = log.indexOf(':', at);
    if (colon < 0) break;
    const end = colon + 1 + parseInt(log.slice(at, colon), 36);
    if (!(end <= log.length)) break;
    const entry = decodeHistoryEntry(log.slice(colon + 1, end));
    if (entry) out.push(entry);
    at = end;
  }
  return out;
}

/** An error message cut to {@link HISTORY_ERROR_MAX} characters. */
export function historyError(message: string): string {
  return message.length > HISTORY_ERROR_MAX ? `${message.slice(0, HISTORY_ERROR_MAX - 1)}…` : message;
}

function triggerCode(trigger: SyncTrigger): string {
  const i = TRIGGERS.indexOf(trigger);
  return i >= 0 ? String(i) : String(trigger).replace(/,/g, '');
}

function b36(n: number): string {
  return Math.round(n).toString(36);
}
