/**
 * Run history: what one finished run leaves in the storage (see `WriteOptions.history` and
 * `Storage.readHistory`), and the compact string RedisStorage keeps it as (MemoryStorage keeps
 * numbers: history-ring.ts).
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
