/**
 * When a CronJob is due, with cron-parser (five fields, the @hourly-style macros, a time zone)
 * and robfig/cron's `@every <duration>`. Pure: the clock is an argument.
 */
import { CronExpressionParser } from 'cron-parser';

const MACROS: Record<string, string> = { '@midnight': '@daily', '@annually': '@yearly' };
const GO_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export interface Due {
  /** The latest scheduled time in (after, now], if any. */
  mostRecent?: number;
  /** How many scheduled times fell in (after, now] (counted up to 101). */
  missed: number;
  /** The first scheduled time after now. */
  next: number;
}

function everyMs(schedule: string): number | undefined {
  const m = /^@every\s+(\S+)$/.exec(schedule.trim());
  if (!m) return undefined;
  let total = 0;
  for (const part of m[1]!.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g))
    total += Number(part[1]) * GO_UNITS[part[2]!]!;
  return Math.max(1000, Math.floor(total / 1000) * 1000);
}

function expression(schedule: string): string {
  const s = schedule.trim();
  if (MACROS[s]) return MACROS[s];
  if (s.startsWith('@')) return s;
  // robfig/cron reads '?' in the day fields as '*'.
  return s
    .split(/\s+/)
    .map((f, i) => (f === '?' && (i === 2 || i === 4) ? '*' : f))
    .join(' ');
}

/** The scheduled times after `after` up to `now`, and the next one. */
export function dueTimes(schedule: string, timeZone: string | undefined, after: number, now: number): Due {
  const every = everyMs(schedule);
  if (every !== undefined) {
    const count = Math.max(0, Math.floor((now - after) / every));
    return {
      ...(count > 0 ? { mostRecent: after + count * every } : {}),
      missed: Math.min(count, 101),
      next: after + (count + 1) * every,
    };
  }
  const options = (currentDate: number) => ({
    currentDate: new Date(currentDate),
    ...(timeZone ? { tz: timeZone } : { tz: 'UTC' }),
  });
  const next = CronExpressionParser.parse(expression(schedule), options(now)).next().getTime();
  const prev = CronExpressionParser.parse(expression(schedule), options(now + 1))
    .prev()
    .getTime();
  if (prev <= after) return { missed: 0, next };
  let missed = 0;
  const walk = CronExpressionParser.parse(expression(schedule), options(after));
  for (let t = walk.next().getTime(); t <= now && missed <= 100; t = walk.next().getTime()) missed++;
  return { mostRecent: prev, missed, next };
}
