/**
 * Per-fabric chains that serialize the host's upserts and removals of the same id: each call runs
 * after the previous one for its id (or for every id of a batch) has settled, whatever its outcome.
 * Every step is bounded by the storage timeouts, so a hung one never blocks the next for long.
 */
export class OpChains {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Chains `fn` after the previous operation on `id`. */
  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#tails.set(id, tail);
    void tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return next;
  }

  /** Chains `fn` (a batch) after the previous operation on every id in `ids`; later ones on any of them wait for it. */
  runMany<T>(ids: readonly string[], fn: () => Promise<T>): Promise<T> {
    const before: Promise<unknown>[] = [];
    for (const id of ids) {
      const prev = this.#tails.get(id);
      if (prev) before.push(prev);
    }
    const next = before.length === 0 ? Promise.resolve().then(fn) : Promise.all(before).then(fn, fn);
    const tail = next.catch(() => undefined);
    for (const id of ids) this.#tails.set(id, tail);
    void tail.then(() => {
      for (const id of ids) if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return next;
  }
}
