/**
 * A loopback TCP proxy in front of a server port (Redis), for network-partition tests: point one
 * replica's client at `proxy.port` and cut it off with `blackhole()` while others keep talking to
 * Redis directly.
 *
 * - `blackhole()`: connections stay open (no FIN, no RST: the client sees no error), new ones are
 *   accepted, and nothing is forwarded either way. Bytes sent meanwhile are held, as TCP holds
 *   unacknowledged data during a short partition: the proxy stops reading (the kernel's socket
 *   buffers, then TCP flow control, hold the rest), so memory stays bounded by the kernel buffers
 *   plus at most one chunk per direction.
 * - `heal()`: forwarding resumes and held bytes are delivered in order (a queued command lands
 *   late, exactly what a real partition that heals does). Request/reply pairing is never broken.
 * - `reset()`: destroys every open connection (the client sees a reset and reconnects).
 * - `close()`: stops listening and destroys every connection.
 *
 * Bounded: at most `maxConnections` open pairs (more are refused with a reset), and an upstream
 * that does not accept within `connectTimeout` ms drops the pair.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxyOptions {
  /** The port to forward to (on `targetHost`). */
  targetPort: number;
  /** @default '127.0.0.1' */
  targetHost?: string;
  /** Open connection pairs at most; more are reset at once. @default 64 */
  maxConnections?: number;
  /** Upstream connect timeout, ms. @default 2_000 */
  connectTimeout?: number;
}

export interface TcpProxy {
  /** The loopback port to connect to instead of the target's. */
  readonly port: number;
  readonly url: string;
  /** Connection pairs open right now. */
  readonly connections: number;
  readonly blackholed: boolean;
  /** Forwards nothing from now on, both ways; sockets stay open. Idempotent. */
  blackhole(): void;
  /** Forwards again, held bytes first. Idempotent. */
  heal(): void;
  /** Destroys every open connection (clients see a reset); the proxy keeps listening. */
  reset(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/** One direction of a pair: `from` is read and written to `to`, unless held. */
class Pipe {
  #held: Buffer | undefined;
  #backpressure = false;
  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly isBlackholed: () => boolean,
  ) {
    from.on('data', (chunk: Buffer) => {
      if (this.isBlackholed()) {
        // at most the chunk that was already read when the hole opened; the rest waits in the kernel
        this.#held = this.#held ? Buffer.concat([this.#held, chunk]) : chunk;
        from.pause();
        return;
      }
      this.#write(chunk);
    });
    to.on('drain', () => {
      this.#backpressure = false;
      if (!this.isBlackholed()) from.resume();
    });
  }

  #write(chunk: Buffer): void {
    if (this.to.destroyed) return;
    if (!this.to.write(chunk)) {
      this.#backpressure = true;
      this.from.pause();
    }
  }

  hold(): void {
    this.from.pause();
  }

  release(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held) this.#write(held);
    if (!this.#backpressure) this.from.resume();
  }
}

/** Starts a proxy on a random loopback port in front of `targetHost:targetPort`. */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  const maxConnections = options.maxConnections ?? 64;
  const connectTimeout = options.connectTimeout ?? 2_000;
  let blackholed = false;
  const pairs = new Set<{ client: Socket; upstream: Socket; pipes: Pipe[] }>();
  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    if (pairs.size >= maxConnections) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect({ port: options.targetPort, host: targetHost });
    upstream.pause();
    const timer = setTimeout(() => upstream.destroy(new Error('upstream connect timeout')), connectTimeout);
    timer.unref();
    upstream.once('connect', () => clearTimeout(timer));
    const isBlackholed = () => blackholed;
    const pair = { client, upstream, pipes: [new Pipe(client, upstream, isBlackholed), new Pipe(upstream, client, isBlackholed)] };
    pairs.add(pair);
    const end = () => {
      clearTimeout(timer);
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      s.on('error', end);
      s.on('close', end);
    }
    if (!blackholed) for (const p of pair.pipes) p.release();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('tcp proxy: no port');
  const port = address.port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    get blackholed() {
      return blackholed;
    },
    blackhole() {
      if (blackholed) return;
      blackholed = true;
      for (const p of pairs) for (const pipe of p.pipes) pipe.hold();
    },
    heal() {
      if (!blackholed) return;
      blackholed = false;
      for (const p of pairs) for (const pipe of p.pipes) pipe.release();
    },
    reset() {
      for (const p of [...pairs]) {
        p.client.resetAndDestroy();
        p.upstream.destroy();
      }
    },
    close() {
      for (const p of [...pairs]) {
        p.client.destroy();
        p.upstream.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
