/**
 * A pseudo-terminal for the process runtime's `exec -t`, without a native module: util-linux's
 * `script` (in every Debian, package bsdutils) runs the command on a new pty and relays it over
 * pipes. Its window size is set on the pty the command holds (`stty -F /dev/pts/N`), which the
 * kernel follows with SIGWINCH to the command, as a terminal resize does.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** `script`'s arguments that run `command` on a terminal and exit with its status. */
export function terminalCommand(command: string[]): [string, string[]] {
  return ['script', ['-q', '-f', '-e', '-c', command.map(shellQuote).join(' '), '/dev/null']];
}

export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The pty `script` (pid) gave its command, once the command has started. */
function terminalOf(scriptPid: number): string | undefined {
  try {
    const children = readFileSync(`/proc/${scriptPid}/task/${scriptPid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    for (const child of children) {
      const tty = readlinkSync(`/proc/${child}/fd/0`);
      if (tty.startsWith('/dev/pts/')) return tty;
    }
  } catch {
    // not started yet, or already gone
  }
  return undefined;
}

/**
 * Sets the terminal's size; a resize that comes before the command has its terminal waits for it
 * (up to 2 s). Only the newest size is applied when several come at once.
 */
export class TerminalSize {
  private wanted: { cols: number; rows: number } | undefined;
  private applying = false;

  constructor(private readonly scriptPid: number) {}

  set(cols: number, rows: number): void {
    this.wanted = { cols, rows };
    if (!this.applying) void this.apply();
  }

  private async apply(): Promise<void> {
    this.applying = true;
    try {
      for (let tries = 0; this.wanted && tries < 40; tries++) {
        const tty = terminalOf(this.scriptPid);
        if (!tty) {
          await sleep(50);
          continue;
        }
        const { cols, rows } = this.wanted;
        this.wanted = undefined;
        await new Promise<void>((resolve) =>
          execFile('stty', ['-F', tty, 'cols', String(cols), 'rows', String(rows)], () => resolve()),
        );
      }
    } finally {
      this.applying = false;
    }
  }
}
