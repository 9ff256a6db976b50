/**
 * MemoryStorage's run history of one fabric: a ring of numbers, newest entry last, so appending
 * an entry stores five numbers and builds no string (issue 11: encoding and re-framing a string
 * log cost about 2 µs and a ~1 KB string per run).
 *
 * Each entry is five doubles in one packed array (40 bytes): `scheduledAt`, `startedAt`,
 * `finishedAt`, `fencingToken`, and `durationMs × 64 + code`, where the code holds the trigger
 * (bits 0-2, 7: a trigger kept by name) and the outcome (bits 3-5: 0 succeeded, 1 + the failure
 * reason's index). Texts (`replica`, `error`, a trigger kept by name) go to a second array,
 * allocated only once an entry has one. The ring grows by doubling up to `keep`.
 */
import type { FailureReason, SyncTrigger } from '../events.js';
import type { HistoryAppend, RunHistoryEntry } from './history.js';

const FIELDS = 5;
const TEXTS = 3;
const TRIGGERS: readonly SyncTrigger[] = ['schedule', 'catch-up', 'retry', 'manual'];
const NAMED_TRIGGER = 7;
const REASONS: readonly FailureReason[] = ['error', 'timeout', 'aborted', 'lock-lost'];
/** `durationMs × CODES + code`: the code takes six bits. */
const CODES = 64;
/** Largest duration kept exactly (longer ones read as this): 2^46 ms, about 2,230 years. */
const MAX_DURATION = 2 ** 46;

export class HistoryRing {
  /** `FIELDS` numbers per entry, `capacity` entries, oldest at `#start`. */
  #nums: number[] = [];
  /** `TEXTS` per entry (replica, error, trigger by name), once any entry had one. */
  #texts: Array<string | undefined> | undefined;
  #start = 0;
  #count = 0;

  /** Entries held. */
  get size(): number {
    return this.#count;
  }

  /** Appends `h.entry` as the newest entry, keeping the newest `h.keep` (at least 1). */
  push(h: HistoryAppend): void {
    const keep = Number.isSafeInteger(h.keep) && h.keep > 0 ? h.keep : 1;
    // A smaller keep than before drops the oldest entries.
    while (this.#count >= keep) this.#dropOldest();
    let cap = this.#nums.length / FIELDS;
    if (this.#count === cap) {
      this.#grow(Math.min(keep, Math.max(2, cap * 2)));
      cap = this.#nums.length / FIELDS;
    }
    const e = h.entry;
    const slot = (this.#start + this.#count) % cap;
    const at = slot * FIELDS;
    const nums = this.#nums;
    nums[at] = +e.scheduledAt;
    nums[at + 1] = +e.startedAt;
    nums[at + 2] = +e.finishedAt;
    nums[at + 3] = +e.fencingToken;
    let trigger = TRIGGERS.indexOf(e.trigger);
    if (trigger < 0) trigger = NAMED_TRIGGER;
    const failed = e.outcome !== 'succeeded';
    const outcome = failed ? 1 + Math.max(0, REASONS.indexOf(e.reason ?? 'error')) : 0;
    const d = Math.round(e.durationMs);
    const duration = d > 0 ? Math.min(d, MAX_DURATION) : 0;
    nums[at + 4] = duration * CODES + (trigger | (outcome << 3));
    const replica = e.replica ?? '';
    const error = failed ? (e.error ?? '') : '';
    if (replica !== '' || error !== '' || trigger === NAMED_TRIGGER || this.#texts) {
      const texts = (this.#texts ??= new Array<string | undefined>(cap * TEXTS).fill(undefined));
      texts[slot * TEXTS] = replica === '' ? undefined : replica;
      texts[slot * TEXTS + 1] = error === '' ? undefined : error;
      texts[slot * TEXTS + 2] = trigger === NAMED_TRIGGER ? String(e.trigger) : undefined;
    }
    this.#count++;
  }

  /** The newest `limit` entries, newest first. */
  read(limit: number): RunHistoryEntry[] {
    const out: RunHistoryEntry[] = [];
    const cap = this.#nums.length / FIELDS;
    for (let i = this.#count - 1; i >= 0 && out.length < limit; i--) out.push(this.#entry((this.#start + i) % cap));
    return out;
  }

  #entry(slot: number): RunHistoryEntry {
    const n = this.#nums;
    const at = slot * FIELDS;
    const packed = n[at + 4]!;
    const code = packed % CODES;
    const t = this.#texts;
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

  #dropOldest(): void {
    const cap = this.#nums.length / FIELDS;
    if (this.#texts) this.#texts.fill(undefined, this.#start * TEXTS, this.#start * TEXTS + TEXTS);
    this.#start = (this.#start + 1) % cap;
    this.#count--;
  }

  /** Re-lays the ring out oldest first in room for `cap` entries. */
  #grow(cap: number): void {
    const old = this.#nums;
    const oldCap = old.length / FIELDS;
    // Exactly `cap` entries long (an array grown by push keeps spare room), filled with a double
    // so that it holds unboxed doubles from the start.
    const nums = new Array<number>(cap * FIELDS).fill(0.5);
    const texts = this.#texts ? new Array<string | undefined>(cap * TEXTS).fill(undefined) : undefined;
    for (let i = 0; i < this.#count; i++) {
      const from = (this.#start + i) % oldCap;
      for (let f = 0; f < FIELDS; f++) nums[i * FIELDS + f] = old[from * FIELDS + f]!;
      if (texts) for (let f = 0; f < TEXTS; f++) texts[i * TEXTS + f] = this.#texts![from * TEXTS + f];
    }
    this.#nums = nums;
    this.#texts = texts;
    this.#start = 0;
  }
}
