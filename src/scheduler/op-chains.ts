/**
 * Per-fabric chains that serialize the host's upserts and removals of the same id: each call runs
 * after the previous one for its id (or for every id of a batch) has settled, whatever its outcome.
 * Every step is bounded by the storage timeouts, so a hung one never blocks the next for long.
 *
 * Single operations keep one tail per id; a batch keeps its id set instead of writing a tail per id
 * (a million-fabric `upsertFabrics` would otherwise set and delete a million map entries). Batches
 * run one after another; a single operation waits for its id's tail and for the latest batch that
 * holds its id.
 */
export class OpChains {
  readonly #tails = new Map<string, Promise<unknown>>();
  /** Batches not yet settled, oldest first. */
  readonly #batches: { readonly ids: ReadonlySet<string>; readonly tail: Promise<unknown> }[] = [];

  /** Chains `fn` after the previous operation on `id`. */
  run<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const own = this.#tails.get(id);
    const batch = this.#latestBatchWith(id);
    const prev = own && batch ? Promise.all([own, batch]) : (own ?? batch ?? Promise.resolve());
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#tails.set(id, tail);
    void tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return next;
  }

  /** Chains `fn` (a batch) after the previous operation on every id in `ids`; later ones on any of them wait for it. */
  runMany<T>(ids: ReadonlySet<string>, fn: () => Promise<T>): Promise<T> {
    const before: Promise<unknown>[] = this.#batches.map((b) => b.tail);
    if (this.#tails.size > 0) {
      for (const id of ids) {
        const prev = this.#tails.get(id);
        if (prev) before.push(prev);
      }
    }
    const next = before.length === 0 ? Promise.resolve().then(fn) : Promise.all(before).then(fn, fn);
    const batch = { ids, tail: next.catch(() => undefined) };
    this.#batches.push(batch);
    void batch.tail.then(() => this.#batches.splice(this.#batches.indexOf(batch), 1));
    return next;
  }

  #latestBatchWith(id: string): Promise<unknown> | undefined {
    for (let i = this.#batches.length - 1; i >= 0; i--) if (this.#batches[i]!.ids.has(id)) return this.#batches[i]!.tail;
    return undefined;
  }
}
