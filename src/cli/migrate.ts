/**
 * `syncwheel migrate`: moves a prefix's syncwheel 0.1 data (schema 1) to the current layout with
 * {@link migrateRedisData}, on a single Redis or on every master of a Redis Cluster. A dry run
 * (the default) only counts; `--yes` migrates. Idempotent: a second run has nothing to do.
 */
import type { Cluster, Redis } from 'ioredis';
import { legacyKeys } from '../redis/keys.js';
import { migrateRedisData, type MigrateRedisDataResult } from '../redis/migrate.js';
import { clusterOf, commandLine } from './redis.js';
import { SetupError, TroubleError, UnreachableError, UsageError, redact, show, type Cmd, type Io } from './shared.js';

export async function migrate(client: Redis, cmd: Cmd, io: Io): Promise<number> {
  let cluster: Cluster | undefined;
  try {
    try {
      cluster = await clusterOf(client, cmd);
    } catch (error) {
      if (error instanceof UsageError || error instanceof UnreachableError || error instanceof SetupError) throw error;
      throw new UnreachableError(`Redis at ${redact(cmd.url)} failed: ${(error as Error).message}`);
    }
    let result: MigrateRedisDataResult;
    try {
      result = await migrateRedisData({ client: cluster ?? client, prefix: cmd.prefix, dryRun: !cmd.yes });
    } catch (error) {
      // exit 1: the migration ran and failed (a schema it does not know, Redis failing midway)
      throw new TroubleError(`${(error as Error).message}${cmd.yes ? ' (migrate is idempotent: run it again to move what is left)' : ''}`);
    }
    if (cmd.json) io.out(JSON.stringify({ prefix: cmd.prefix, ...result }, null, 2));
    else for (const line of formatMigrateReport(result, cmd.prefix, `${commandLine(cmd)} --yes`)) io.out(line);
    return 0;
  } finally {
    cluster?.disconnect();
  }
}

/** Whether there is nothing (left) to migrate: no 0.1 record or fence, and no schema-1 marker. */
function nothingToDo(r: MigrateRedisDataResult): boolean {
  return r.records === 0 && r.fences === 0 && r.schemaBefore !== 1;
}

/** The human-readable report (lines); after a dry run, with the command that migrates. */
export function formatMigrateReport(r: MigrateRedisDataResult, prefix: string, command: string): string[] {
  const p = show(JSON.stringify(prefix));
  const lines: string[] = [];
  if (nothingToDo(r)) {
    lines.push(r.schemaBefore === null ? `Nothing to migrate: no syncwheel data under prefix ${p} (check --prefix and the database in --redis).` : `Nothing to migrate: the data of prefix ${p} is at schema ${r.schemaBefore} already.`);
  } else {
    lines.push(r.dryRun ? `Dry run: would migrate the syncwheel 0.1 data (schema 1) of prefix ${p} to schema 2:` : `Migrated the syncwheel 0.1 data (schema 1) of prefix ${p} to schema 2:`);
    lines.push(`  records     ${r.records}${r.control ? ' (the control record included)' : ''}`);
    lines.push(`  fences      ${r.fences} (of deleted fabrics)`);
    if (!r.dryRun) {
      lines.push(`  kept        ${r.alreadyMigrated} (already in the new layout: an earlier, interrupted run)`);
      lines.push(`  deleted     ${r.deletedKeys} schema-1 key(s)`);
    }
  }
  if (r.unreadable.length > 0) {
    const ids = r.unreadable.slice(0, 10).map((id) => show(JSON.stringify(id))).join(', ');
    lines.push(`Unreadable: ${r.unreadable.length} 0.1 record(s) ${r.dryRun ? 'would stay' : 'stay'} under their old keys (${show(legacyKeys(prefix).record('<id>'))}), not migrated: ${ids}${r.unreadable.length > 10 ? ', …' : ''}`);
  }
  if (r.dryRun && !nothingToDo(r)) lines.push(`Nothing was changed. Stop every replica of the prefix, then migrate: ${command}`);
  return lines;
}
