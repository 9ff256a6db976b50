/**
 * MemoryStorage's run history: per fabric, a ring of numbers, so appending an entry stores five
 * numbers and builds no string (issue 11: encoding and re-framing a string log cost about 2 µs
 * and a ~1 KB string per run).
 *
 * A fabric's ring is ONE packed array of doubles: `[start, count, ...entries]`, five numbers per
 * entry (40 bytes): `scheduledAt`, `startedAt`, `finishedAt`, `fencingToken`, and
 * `durationMs × 64 + code`, where the code holds the trigger (bits 0-2, 7: a trigger kept by
 * name) and the outcome (bits 3-5: 0 succeeded, 1 + the failure reason's index). It grows by
 * doubling from one entry up to `keep`, so a fabric that ran once holds one entry's room (about
 * 100 bytes with the array's headers). Texts (`replica`, `error`, a trigger kept by name) live in a
 * second array per fabric, made only once one of its entries has one.
 */
import type { FailureReason, SyncTrigger } from '../events.js';
import type { HistoryAppend, RunHistoryEntry } from './history.js';

const HEAD = 2;
const FIELDS = 5;
const TEXTS = 3;
const TRIGGERS: readonly SyncTrigger[] = ['schedule', 'catch-up', 'retry', 'manual'];
const NAMED_TRIGGER = 7;
const REASONS: readonly FailureReason[] = ['error', 'timeout', 'aborted', 'lock-lost'];
/** `durationMs × CODES + code`: the code takes six bits. */
const CODES = 64;
/** Largest duration kept exactly (longer ones read as this): 2^46 ms, about 2,230 years. */
const MAX_DURATION = 2 ** 46;

type Texts = Array<string | undefined>;

/**
 * The run history of every fabric of one MemoryStorage, by the fabric's slot there (an array
 * index: no lookup by id per run). The storage forgets a slot's history before it reuses it.
 */
export class HistoryRings {
  readonly #nums: Array<number[] | undefined> = [];
  readonly #texts: Array<Texts | undefined> = [];

  /** Appends `h.entry` as the newest entry of the fabric in `slot`, keeping its newest `h.keep` (at least 1). */
  push(slot: number, h: HistoryAppend): void {
    const keep = Number.isSafeInteger(h.keep) && h.keep > 0 ? h.keep : 1;
    const e = h.entry;
    let trigger = TRIGGERS.indexOf(e.trigger);
    if (trigger < 0) trigger = NAMED_TRIGGER;
    const failed = e.outcome !== 'succeeded';
    const replica = e.replica ?? '';
    const error = failed ? (e.error ?? '') : '';
    let texts = this.#texts[slot];
    const hasText = replica !== '' || error !== '' || trigger === NAMED_TRIGGER;
    let nums = this.#nums[slot] ?? this.#ring(slot, 1, undefined);
    // A smaller keep than before drops the oldest entries.
    while (nums[1]! >= keep) dropOldest(nums, texts);
    if (nums[1]! === capacity(nums)) {
      nums = this.#ring(slot, Math.min(keep, capacity(nums) * 2), nums);
      texts = this.#texts[slot];
    }
    if (hasText && texts === undefined) this.#texts[slot] = texts = new Array<string | undefined>(capacity(nums) * TEXTS).fill(undefined);
    const pos = (nums[0]! + nums[1]!) % capacity(nums);
    const at = HEAD + pos * FIELDS;
    nums[at] = +e.scheduledAt;
    nums[at + 1] = +e.startedAt;
    nums[at + 2] = +e.finishedAt;
    nums[at + 3] = +e.fencingToken;
    const outcome = failed ? 1 + Math.max(0, REASONS.indexOf(e.reason ?? 'error')) : 0;
    const d = Math.round(e.durationMs);
    nums[at + 4] = (d > 0 ? Math.min(d, MAX_DURATION) : 0) * CODES + (trigger | (outcome << 3));
    if (texts !== undefined) {
      texts[pos * TEXTS] = replica === '' ? undefined : replica;
      texts[pos * TEXTS + 1] = error === '' ? undefined : error;
      texts[pos * TEXTS + 2] = trigger === NAMED_TRIGGER ? String(e.trigger) : undefined;
    }
    nums[1] = nums[1]! + 1;
  }

  /** The newest `limit` entries of the fabric in `slot`, newest first. */
  read(slot: number, limit: number): RunHistoryEntry[] {
    const nums = this.#nums[slot];
    const out: RunHistoryEntry[] = [];
    if (nums === undefined) return out;
    const texts = this.#texts[slot];
    const cap = capacity(nums);
    for (let i = nums[1]! - 1; i >= 0 && out.length < limit; i--) out.push(entryAt(nums, texts, (nums[0]! + i) % cap));
    return out;
  }

  /** Forgets the history of the fabric in `slot` (before the slot is reused). */
  delete(slot: number): void {
    if (slot < this.#nums.length) this.#nums[slot] = undefined;
    if (slot < this.#texts.length) this.#texts[slot] = undefined;
  }

  /** Entries held for the fabric in `slot`. */
  size(slot: number): number {
    return this.#nums[slot]?.[1] ?? 0;
  }

  /** Lays the ring of the fabric in `slot` out oldest first in room for `cap` entries (its texts too). */
  #ring(slot: number, cap: number, old: number[] | undefined): number[] {
    // Exactly `cap` entries long (an array grown by push keeps spare room), filled with a double
    // so that it holds unboxed doubles from the start.
    const nums = new Array<number>(HEAD + cap * FIELDS).fill(0.5);
    nums[0] = 0;
    nums[1] = 0;
    const oldTexts = this.#texts[slot];
    const texts = oldTexts ? new Array<string | undefined>(cap * TEXTS).fill(undefined) : undefined;
    if (old !== undefined) {
      const oldCap = capacity(old);
      const count = old[1]!;
      for (let i = 0; i < count; i++) {
        const from = (old[0]! + i) % oldCap;
        for (let f = 0; f < FIELDS; f++) nums[HEAD + i * FIELDS + f] = old[HEAD + from * FIELDS + f]!;
        if (texts) for (let f = 0; f < TEXTS; f++) texts[i * TEXTS + f] = oldTexts![from * TEXTS + f];
      }
      nums[1] = count;
    }
    this.#nums[slot] = nums;
    if (texts) this.#texts[slot] = texts;
    return nums;
  }
}

function capacity(nums: number[]): number {
  return (nums.length - HEAD) / FIELDS;
}

function dropOldest(nums: number[], texts: Texts | undefined): void {
  const start = nums[0]!;
  if (texts) texts.fill(undefined, start * TEXTS, start * TEXTS + TEXTS);
  nums[0] = (start + 1) % capacity(nums);
  nums[1] = nums[1]! - 1;
}

function entryAt(n: number[], t: Texts | undefined, slot: number): RunHistoryEntry {
  const at = HEAD + slot * FIELDS;
  const packed = n[at + 4]!;
  const code = packed % CODES;
  const trigger = (code & 7) === NAMED_TRIGGER ? (t?.[slot * TEXTS + 2] as SyncTrigger) : TRIGGERS[code & 7]!;
  const outcome = code >> 3;
  const entry: { -readonly [K in keyof RunHistoryEntry]: RunHistoryEntry[K] } = {
    scheduledAt: n[at]!,
    startedAt: n[at + 1]!,
    finishedAt: n[at + 2]!,
    trigger,
    outcome: outcome === 0 ? 'succeeded' : 'failed',
    durationMs: (packed - code) / CODES,
    fencingToken: n[at + 3]!,
  };
  if (outcome > 0) {
    entry.reason = REASONS[outcome - 1]!;
    entry.error = t?.[slot * TEXTS + 1] ?? '';
  }
  const replica = t?.[slot * TEXTS];
  if (replica !== undefined) entry.replica = replica;
  return entry;
}
