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
