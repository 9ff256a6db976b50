/**
 * The binary min-heap (by due time) that holds the timing wheel's entries due past its horizon.
 * Each entry keeps its heap index in `pos`, so removing one is O(log n).
 */
import type { IntrusiveEntry } from './wheel-types.js';

export class EntryHeap<T> {
  #a: Array<IntrusiveEntry<T>> = [];

  get size(): number {
    return this.#a.length;
  }

  peek(): IntrusiveEntry<T> | undefined {
    return this.#a[0];
  }

  push(node: IntrusiveEntry<T>): void {
    this.#a.push(node);
    this.#up(this.#a.length - 1, node);
  }

  pop(): IntrusiveEntry<T> {
    const top = this.#a[0]!;
    this.remove(0);
    return top;
  }

  /** Removes the entry at heap index `i` (its `pos`). */
  remove(i: number): void {
    const heap = this.#a;
    const last = heap.pop()!;
    if (i < heap.length) {
      this.#up(i, last);
      this.#down(last.pos, last);
    }
  }

  /** Empties the heap into `out`. */
  drainInto(out: Array<IntrusiveEntry<T>>): void {
    for (const n of this.#a) out.push(n);
    this.#a = [];
  }

  #up(i: number, node: IntrusiveEntry<T>): void {
    const heap = this.#a;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pn = heap[p]!;
      if (pn.dueAt <= node.dueAt) break;
      heap[i] = pn;
      pn.pos = i;
      i = p;
    }
    heap[i] = node;
    node.pos = i;
  }

  #down(i: number, node: IntrusiveEntry<T>): void {
    const heap = this.#a;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.dueAt < heap[l]!.dueAt ? r : l;
      const cn = heap[c]!;
      if (cn.dueAt >= node.dueAt) break;
      heap[i] = cn;
      cn.pos = i;
      i = c;
    }
    heap[i] = node;
    node.pos = i;
  }
}
