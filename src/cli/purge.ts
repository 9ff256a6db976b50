/** `syncwheel purge`: counts (dry run) or deletes every key of a prefix, on every master of a cluster. */
import type { Cluster, Redis } from 'ioredis';
import { assertPurgeablePrefix, formatPurgeReport, purgePrefix } from '../ops/purge.js';
import { clusterOf, commandLine } from './redis.js';
import { SetupError, UnreachableError, UsageError, redact, show, type Cmd, type Io } from './shared.js';

/** A purge prefix refused by purgePrefix is a usage error (exit 2), before Redis is reached. */
export function assertUsablePrefix(prefix: string): void {
  try {
    assertPurgeablePrefix(prefix);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** `purge`: on a cluster node (INFO cluster) every master is scanned through an ioredis Cluster seeded with it. */
export async function purge(client: Redis, cmd: Cmd, io: Io): Promise<number> {
  let cluster: Cluster | undefined;
  try {
    cluster = await clusterOf(client, cmd);
    const report = await purgePrefix(cluster ?? client, { prefix: cmd.prefix, dryRun: !cmd.yes });
    if (cmd.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of formatPurgeReport(report, show, commandLine(cmd))) io.out(line);
    return !report.dryRun && (report.remaining > 0 || report.errors.count > 0) ? 1 : 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof UnreachableError || error instanceof SetupError) throw error;
    throw new UnreachableError(`Redis at ${redact(cmd.url)} failed: ${(error as Error).message}`);
  } finally {
    cluster?.disconnect();
  }
}
