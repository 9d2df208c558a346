/**
 * Scheduled backups (`berth server --backup-schedule CRON --backup-keep N`): at each time the cron
 * expression names (node-cron; five fields, or six with seconds), the leader writes a consistent
 * copy of the store into the backup directory — under a temporary name first, so that a file named
 * as a backup is always whole — and removes the oldest beyond `keep`.
 */
import { readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import cron from 'node-cron';
import type { Logger } from 'pino';
import { BerthError } from '../api/errors.js';

const PREFIX = 'berth-backup-';

export interface BackupSchedule {
  schedule: string;
  keep: number;
  dir: string;
  /** `.db` (SQLite) or `.snapshot` (etcd). */
  extension: string;
  backup: (file: string) => Promise<{ revision: number }>;
  /** Only the leader takes them (several servers on one etcd would copy the same state). */
  leading: () => boolean;
  log: Logger;
}

/** Checks the schedule now (a usage error at start, not a silent nothing later); returns the stop. */
export function scheduleBackups(o: BackupSchedule): () => Promise<void> {
  const check = cron.validateDetailed(o.schedule);
  if (!check.valid)
    throw new BerthError(
      'Usage',
      `--backup-schedule ${JSON.stringify(o.schedule)}: ${check.errors.map((e) => e.message).join('; ')}`,
    );
  if (!Number.isInteger(o.keep) || o.keep < 1) throw new BerthError('Usage', '--backup-keep must be at least 1');
  const task = cron.schedule(o.schedule, () => (o.leading() ? takeBackup(o) : undefined), { noOverlap: true });
  return async () => {
    await task.destroy();
  };
}

async function takeBackup(o: BackupSchedule): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const partial = path.join(o.dir, `.partial-${stamp}`);
  try {
    const { revision } = await o.backup(partial);
    const file = path.join(o.dir, `${PREFIX}${stamp}-r${revision}${o.extension}`);
    renameSync(partial, file);
    o.log.info({ file, revision }, 'backup written');
    const backups = readdirSync(o.dir)
      .filter((f) => f.startsWith(PREFIX))
      .sort();
    for (const old of backups.slice(0, Math.max(0, backups.length - o.keep))) rmSync(path.join(o.dir, old));
  } catch (err) {
    rmSync(partial, { force: true });
    o.log.error({ err }, 'the scheduled backup failed');
  }
}
