/**
 * CronJob schedules as Kubernetes accepts them (robfig/cron's standard parser): five fields, or a
 * descriptor (@hourly, @daily, @every 90m, …); `?` allowed in the day fields; no TZ= prefix (the
 * timeZone field says that). Field syntax is checked with node-cron, the scheduler Berth runs.
 */
import cron from 'node-cron';

const DESCRIPTORS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

/** Returns what is wrong with the schedule, or undefined when Kubernetes would accept it. */
export function scheduleProblem(schedule: string): string | undefined {
  const s = schedule.trim();
  if (/^(CRON_)?TZ=/.test(s)) return 'cannot use TZ or CRON_TZ in schedule, use the timeZone field instead';
  if (s.startsWith('@')) {
    if (DESCRIPTORS.has(s)) return undefined;
    const every = /^@every\s+(\S+)$/.exec(s);
    if (every && GO_DURATION.test(every[1]!)) return undefined;
    return `unrecognized descriptor ${JSON.stringify(s)} (use @yearly, @monthly, @weekly, @daily, @hourly or @every <duration>)`;
  }
  const fields = s.split(/\s+/);
  if (fields.length !== 5)
    return `expected 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}`;
  // robfig/cron reads '?' in the day fields as '*'.
  const [min, hour, dom, month, dow] = fields as [string, string, string, string, string];
  const result = cron.validateDetailed([min, hour, dom === '?' ? '*' : dom, month, dow === '?' ? '*' : dow].join(' '));
  return result.valid ? undefined : result.errors.map((e) => e.message).join('; ');
}

/** True for an IANA time zone name this runtime knows (Kubernetes checks against tzdata). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return !name.includes(' ') && name !== '';
  } catch {
    return false;
  }
}
