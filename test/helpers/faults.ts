/** Helpers for the fault suite (test/faults). Waiting: wait.ts; own redis-servers and ports: redis.ts. */

/** Collects unhandled rejections and uncaught exceptions while installed. */
export function trapUnhandled(): { readonly seen: unknown[]; dispose(): void } {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  const onException = (error: unknown) => seen.push(error);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    seen,
    dispose: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

// soak/run.ts (not test code) still imports these two from here; drop them once it imports
// `sleep` from './wait.js' and `startOwnRedis` from './redis.js'.
export { sleep } from './wait.js';
export { startOwnRedis as ownRedis } from './redis.js';
