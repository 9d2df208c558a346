/**
 * One server per SQLite store: the server's controllers, scheduler and syncs assume they are the
 * only ones (etcd has leader election for several). A lock file beside the store names the server
 * holding it by pid and process start time, so a lock left by a server that died (or a pid since
 * reused by another program) does not keep the next one out.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BerthError } from '../api/errors.js';
import { processStartTime } from '../api/processes.js';

/**
 * Takes the store's server lock, or throws Unavailable naming the server that holds it. Returns
 * its release.
 */
export function lockSqliteStore(storeFile: string): () => void {
  const lockFile = `${storeFile}.server.lock`;
  // A first start: the data directory is not there yet (made private, as the server makes it).
  mkdirSync(path.dirname(storeFile), { recursive: true, mode: 0o700 });
  const me = `${process.pid} ${processStartTime(process.pid) ?? ''}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockFile, `${me}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        if (readLock(lockFile) === me) rmSync(lockFile, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readLock(lockFile);
      const [pid, started] = (holder ?? '').split(' ');
      if (holder && processStartTime(Number(pid)) === started && started)
        throw new BerthError(
          'Unavailable',
          `another berth server (pid ${pid}) serves the store ${storeFile}: a SQLite store has one server; run several servers on one etcd (--store etcd://…) instead`,
        );
      // Left by a server that is gone: taken over.
      rmSync(lockFile, { force: true });
    }
  }
  throw new BerthError('Unavailable', `could not take the server lock ${lockFile}`);
}

function readLock(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
