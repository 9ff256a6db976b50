/**
 * The SingleFlight port: "at most one run of a fabric at a time", across whatever scope the
 * adapter covers (one process by default, a fleet with `RedlockSingleFlight`).
 */

/** A held claim on one fabric. */
export interface Lease {
  /**
   * Aborted when the claim is lost (expired, taken over, or the lock service is gone). Absent
   * when the claim cannot be lost (an in-process lease), which spares the run a listener.
   */
  readonly signal?: AbortSignal;
  /**
   * What a storage can check the claim by, in the same atomic step as the claim write. For a
   * lock on one Redis (`RedlockSingleFlight` with one client): the lock's key and the value only
   * this holder wrote. Absent when no storage can check it (in-process, Redlock quorum).
   */
  readonly proof?: LeaseProof;
  /**
   * Milliseconds of validity left by the holder's own monotonic reckoning (0 once lost or
   * released). The scheduler starts no executor when it is 0, even if the `signal`'s timer has
   * not fired yet (a busy event loop). Absent: the lease cannot expire.
   */
  remaining?(): number;
  /** Gives the claim up. Safe to call twice; never throws for a lock that was already lost. */
  release(): void | Promise<void>;
}

/** A lock a storage can look up: held while `key` holds `value`. */
export interface LeaseProof {
  readonly key: string;
  readonly value: string;
}

export interface AcquireOptions {
  /** How long the claim lives without being extended (adapters extend it while the run lasts). */
  ttl: number;
}

export interface SingleFlight {
  /**
   * Tries to claim `fabricId` without waiting. Returns (or resolves to) a lease, or `undefined`
   * when someone else holds it; may answer synchronously. Rejects (or throws) when the lock
   * service cannot be reached (the run is then not made).
   */
  acquire(fabricId: string, options: AcquireOptions): Lease | undefined | Promise<Lease | undefined>;
  /**
   * Partitioning hook: return false when another live holder is responsible for `fabricId`'s
   * scheduled slots, so this scheduler skips them without touching the lock or the storage
   * (keeps the claim cost per run O(1) as replicas are added). Manual `syncNow` ignores it.
   * Absent means "always try".
   */
  shouldRun?(fabricId: string): boolean;
  /**
   * Called by a scheduler's `start()` once it runs (and `stop()` when it stops): an adapter with
   * fleet membership (`RedlockSingleFlight` with partitioning) is a member only while at least
   * one scheduler runs on it, so no slot is handed to a replica that is still loading. Optional.
   */
  start?(): void | Promise<void>;
  /** See {@link SingleFlight.start}. Optional. */
  stop?(): void | Promise<void>;
  /** Stops background work (extensions) and releases connections the adapter opened itself. */
  close?(): Promise<void>;
  /**
   * The name of this replica, when the adapter has one (`RedlockSingleFlight`: its `replicaId`).
   * Run history entries carry it as `replica`. Optional.
   */
  readonly replicaId?: string;
}

/**
 * In-process single-flight: a set of held fabric ids. Share one instance between schedulers in
 * the same process to keep them from running the same fabric at once.
 */
export class InProcessSingleFlight implements SingleFlight {
  /**
   * The held ids, and one entry that is never an id (an object): a `Set` that empties and fills on
   * every run (one synchronous run at a time) reallocates its hash table each time.
   */
  readonly #held = new Set<string>([NEVER_AN_ID as unknown as string]);

  acquire(fabricId: string): Lease | undefined {
    if (this.#held.has(fabricId)) return undefined;
    this.#held.add(fabricId);
    return new InProcessLease(this.#held, fabricId);
  }

  /** Whether a lease on `fabricId` is currently held. */
  isHeld(fabricId: string): boolean {
    return this.#held.has(fabricId);
  }
}

const NEVER_AN_ID = Object.freeze({});

/** A lease on the in-process set: it cannot be lost, so it has no signal. */
class InProcessLease implements Lease {
  #held: Set<string> | undefined;
  constructor(held: Set<string>, readonly fabricId: string) {
    this.#held = held;
  }
  release(): void {
    this.#held?.delete(this.fabricId);
    this.#held = undefined;
  }
}
