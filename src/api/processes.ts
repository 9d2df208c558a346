/** What /proc says of a process, for telling a running process from a pid reused since. */
import { readFileSync } from 'node:fs';

/** A process's start time (clock ticks since boot, /proc/PID/stat's 22nd field), if it runs. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: the fields after it start after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
