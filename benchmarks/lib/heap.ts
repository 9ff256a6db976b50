/** A plain binary min-heap timer queue (the usual alternative to a wheel): O(log n) insert, cancel and pop. */
export interface HeapEntry<T> {
  item: T;
  dueAt: number;
  index: number;
}

export class TimerHeap<T> {
  readonly #a: HeapEntry<T>[] = [];
  get size(): number {
    return this.#a.length;
  }
  schedule(item: T, dueAt: number): HeapEntry<T> {
    const e: HeapEntry<T> = { item, dueAt, index: this.#a.length };
    this.#a.push(e);
    this.#up(e.index);
    return e;
  }
  cancel(e: HeapEntry<T>): boolean {
    const i = e.index;
    if (i < 0) return false;
    const last = this.#a.pop()!;
    e.index = -1;
    if (last !== e) {
      this.#a[i] = last;
      last.index = i;
      this.#up(i);
      this.#down(last.index);
    }
    return true;
  }
  /** Removes and returns every entry due at or before `now`. */
  popDue(now: number, out: T[]): void {
    const a = this.#a;
    while (a.length > 0 && a[0]!.dueAt <= now) {
      const top = a[0]!;
      this.cancel(top);
      out.push(top.item);
    }
  }
  peek(): number | undefined {
    return this.#a[0]?.dueAt;
  }
  #up(i: number): void {
    const a = this.#a;
    const e = a[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = a[p]!;
      if (pe.dueAt <= e.dueAt) break;
      a[i] = pe;
      pe.index = i;
      i = p;
    }
    a[i] = e;
    e.index = i;
  }
  #down(i: number): void {
    const a = this.#a;
    const n = a.length;
    const e = a[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r]!.dueAt < a[l]!.dueAt ? r : l;
      const ce = a[c]!;
      if (ce.dueAt >= e.dueAt) break;
      a[i] = ce;
      ce.index = i;
      i = c;
    }
    a[i] = e;
    e.index = i;
  }
}
