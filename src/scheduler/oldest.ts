/**
 * The oldest value among many that change, without looking at them all: the {@link OLDEST_KEPT}
 * smallest values a full pass saw, kept current as their items change, and a floor under every
 * item not kept. Pure (no clock); the gauges keep the oldest last success with it (gauges.ts).
 */

/** Items kept (the oldest ones); past that, the floor stands for the rest. */
export const OLDEST_KEPT = 8;

/**
 * Invariant: every item counted but not kept has a value at or above {@link floor}. So the
 * smallest kept value is the exact oldest while it is at or below the floor; above it, the oldest
 * is somewhere in `[floor, smallest kept]` and {@link oldest} answers the floor (an older value
 * than any there is, until a new pass replaces the set).
 */
export class OldestSet<T> {
  readonly #items: T[] = [];
  readonly #values: number[] = [];
  #floor = Number.POSITIVE_INFINITY;

  /** Every value not kept is at or above it (Infinity: every counted item is kept). */
  get floor(): number {
    return this.#floor;
  }

  /**
   * An item's value now, or null when it no longer counts (removed, disabled, no value). A kept
   * item follows its value; an item not kept is taken in when its value is below the floor,
   * handing the largest kept one over to the floor when the set is full. O(OLDEST_KEPT).
   */
  note(item: T, value: number | null): void {
    const i = this.#items.indexOf(item);
    if (i >= 0) {
      if (value !== null) this.#values[i] = value;
      else {
        // Swapped with the last one: no allocation.
        const last = this.#items.length - 1;
        this.#items[i] = this.#items[last]!;
        this.#values[i] = this.#values[last]!;
        this.#items.length = last;
        this.#values.length = last;
      }
      return;
    }
    if (value === null || value >= this.#floor) return;
    if (this.#items.length < OLDEST_KEPT) {
      this.#items.push(item);
      this.#values.push(value);
      return;
    }
    let max = 0;
    for (let j = 1; j < this.#values.length; j++) if (this.#values[j]! > this.#values[max]!) max = j;
    const handed = this.#values[max]!;
    if (value >= handed) {
      this.#floor = value; // below the floor it was: the floor goes down to it
      return;
    }
    this.#floor = Math.min(this.#floor, handed);
    this.#items[max] = item;
    this.#values[max] = value;
  }

  /** The oldest value: exact while the smallest kept one is at or below the floor; null when nothing counts. */
  oldest(): number | null {
    let min = this.#floor;
    for (const v of this.#values) if (v < min) min = v;
    return min === Number.POSITIVE_INFINITY ? null : min;
  }

  /** Whether {@link oldest} is exact now. */
  exact(): boolean {
    for (const v of this.#values) if (v <= this.#floor) return true;
    return this.#floor === Number.POSITIVE_INFINITY;
  }

  clear(): void {
    this.#items.length = 0;
    this.#values.length = 0;
    this.#floor = Number.POSITIVE_INFINITY;
  }
}
