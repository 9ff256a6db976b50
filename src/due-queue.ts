/**
 * A min-priority queue ordered by (due time, arrival sequence): the concurrency backlog. The
 * oldest due run always goes first, so no fabric starves. Positions are tracked for O(log n)
 * removal of a cancelled run.
 */
export class DueQueue<T extends object> {
  readonly #heap: Array<{ item: T; due: number; seq: number }> = [];
  readonly #index = new Map<T, number>();

  get size(): number {
    return this.#heap.length;
  }

  push(item: T, due: number, seq: number): void {
    this.#heap.push({ item, due, seq });
    this.#index.set(item, this.#heap.length - 1);
    this.#up(this.#heap.length - 1);
  }

  pop(): T | undefined {
    const top = this.#heap[0];
    if (!top) return undefined;
    this.#removeAt(0);
    return top.item;
  }

  /** The item `pop()` would return, with its order key, without removing it. */
  peek(): { item: T; due: number; seq: number } | undefined {
    const top = this.#heap[0];
    return top ? { item: top.item, due: top.due, seq: top.seq } : undefined;
  }

  /** Removes `item`; false when it was not queued. */
  remove(item: T): boolean {
    const i = this.#index.get(item);
    if (i === undefined) return false;
    this.#removeAt(i);
    return true;
  }

  /** Empties the queue, returning its items in order. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.pop(); item; item = this.pop()) out.push(item);
    return out;
  }

  #removeAt(i: number): void {
    const h = this.#heap;
    const removed = h[i]!;
    this.#index.delete(removed.item);
    const last = h.pop()!;
    if (i < h.length) {
      h[i] = last;
      this.#index.set(last.item, i);
      this.#up(i);
      this.#down(i);
    }
  }

  #less(a: { due: number; seq: number }, b: { due: number; seq: number }): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  #up(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #swap(a: number, b: number): void {
    const h = this.#heap;
    const x = h[a]!;
    const y = h[b]!;
    h[a] = y;
    h[b] = x;
    this.#index.set(y.item, a);
    this.#index.set(x.item, b);
  }
}
