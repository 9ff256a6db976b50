/**
 * Membership of `RedlockSingleFlight` replicas: a heartbeat zset in Redis (member -> expiry in
 * Redis' own clock) and rendezvous hashing over the live set, so each replica decides locally
 * (no Redis command) which fabrics' scheduled slots are its own.
 *
 * Cost: one heartbeat script per `heartbeatInterval` per replica, whatever the number of fabrics
 * or runs. Failover: a killed replica's entry expires `membershipTtl` after its last heartbeat
 * and every survivor sees it gone on its next heartbeat, so its fabrics move within
 * `membershipTtl + heartbeatInterval` (plus one round trip).
 */
import { monotonicReader, type Clock, type TimerHandle } from '../clock.js';
import { toError } from '../errors.js';
import { HEARTBEAT_SCRIPT, runScript, type ScriptClient } from './scripts.js';
import { withTimeout } from './lease.js';

/** Default `membershipTtl`, ms (see `RedlockSingleFlightOptions.membershipTtl`). */
export const DEFAULT_MEMBERSHIP_TTL = 2_000;
/** Default heartbeat period as a fraction of `membershipTtl`: 4 beats per TTL, so 3 may fail before a live replica drops out. */
export const HEARTBEATS_PER_TTL = 4;

export interface MembershipOptions {
  client: ScriptClient;
  /** The members zset key. */
  key: string;
  replicaId: string;
  membershipTtl: number;
  heartbeatInterval: number;
  clock: Clock;
  report: (error: unknown) => void;
}

/**
 * One replica's heartbeat and its view of the live set. The view is fresh for `membershipTtl`
 * (monotonic time) after the heartbeat that read it was sent; past that it is unknown, and
 * {@link Membership.owns} answers true for everything (the lock decides), so a replica cut off
 * from Redis never keeps claiming a share it may no longer have.
 */
export class Membership {
  readonly #o: MembershipOptions;
  readonly #now: () => number;
  #members: string[] | undefined;
  #membersAt = 0;
  #timer: TimerHandle | undefined;
  #beating: Promise<void> | undefined;
  #stopped = false;
  /** Heartbeats answered and failed so far (for tests and diagnostics). */
  beats = 0;
  failures = 0;

  constructor(options: MembershipOptions) {
    this.#o = options;
    this.#now = monotonicReader(options.clock);
  }

  /** Sends the first heartbeat and keeps beating every `heartbeatInterval` until {@link stop}. Restartable. */
  start(): void {
    if (!this.#stopped && this.#timer !== undefined) return;
    this.#stopped = false;
    this.#beat();
    this.#schedule();
  }

  /** Resolves once the heartbeat in flight (if any) has been answered or has failed. */
  async settled(): Promise<void> {
    await this.#beating;
  }

  /** Live members as last read (sorted), or undefined when never read or stale. */
  fresh(): string[] | undefined {
    if (!this.#members || this.#now() - this.#membersAt > this.#o.membershipTtl) return undefined;
    return this.#members;
  }

  /**
   * Whether this replica has the highest rendezvous weight for `fabricId` among the live members
   * (itself included even before the others see it). True when membership is unknown or stale.
   * A pure local computation: no Redis command, whatever the fleet size.
   */
  owns(fabricId: string): boolean {
    const members = this.fresh();
    if (!members || members.length === 0) return true;
    const me = this.#o.replicaId;
    return ownerOf(fabricId, members.includes(me) ? members : [...members, me]) === me;
  }

  /** Stops beating and, unless `leave` is false, removes this replica from the set (one script, bounded by `heartbeatInterval`). */
  async stop(leave = true): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#beating?.catch(() => undefined);
    this.#members = undefined;
    if (!leave) return;
    await withTimeout(this.#o.clock, this.#script('1'), this.#o.heartbeatInterval, () => 'leave timed out').catch((error: unknown) => this.#o.report(error));
  }

  #script(leave: '0' | '1'): Promise<unknown> {
    const o = this.#o;
    return runScript(o.client, HEARTBEAT_SCRIPT, [o.key], [o.replicaId, o.membershipTtl, leave]);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#beat();
      this.#schedule();
    }, this.#o.heartbeatInterval);
  }

  #beat(): void {
    if (this.#beating || this.#stopped) return;
    const sent = this.#now();
    const ms = this.#o.heartbeatInterval;
    this.#beating = withTimeout(this.#o.clock, this.#script('0'), ms, () => `heartbeat got no answer within ${ms} ms`)
      .then((reply) => {
        if (this.#stopped) return;
        this.beats++;
        this.#members = (Array.isArray(reply) ? reply.map(String) : []).sort();
        this.#membersAt = sent;
      })
      .catch((error: unknown) => {
        this.failures++;
        this.#o.report(toError(error));
      })
      .finally(() => {
        this.#beating = undefined;
      });
  }
}

/** The member with the highest rendezvous weight for `key` (ties broken by name). */
export function ownerOf(key: string, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const m of members) {
    const w = weight(m, key);
    if (w > bestWeight || (w === bestWeight && best !== undefined && m > best)) {
      best = m;
      bestWeight = w;
    }
  }
  return best;
}

/** cyrb53: a fast 53-bit string hash with good dispersion (public domain, bryc). */
function weight(member: string, key: string): number {
  const str = `${member}\u0000${key}`;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
