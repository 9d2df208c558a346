import { describe, expect, it } from 'vitest';
import { isTimeZone, scheduleProblem } from '../../src/manifest/schedule.js';

describe('CronJob schedules, as Kubernetes accepts them', () => {
  it.each([
    '*/5 * * * *',
    '0 3 * * *',
    '0 0 * * 1-5',
    '0 0 * * MON',
    '15 2 ? * *',
    '@hourly',
    '@daily',
    '@every 1h30m',
    ' 0 0 1 1 * ',
  ])('accepts %j', (s) => {
    expect(scheduleProblem(s)).toBeUndefined();
  });
  it.each<[string, RegExp]>([
    ['61 * * * *', /invalid expression for minute/],
    ['* * *', /expected 5 fields/],
    ['0 * * * * *', /expected 5 fields/],
    ['TZ=UTC 0 * * * *', /use the timeZone field/],
    ['@fortnightly', /unrecognized descriptor/],
    ['@every soon', /unrecognized descriptor/],
  ])('rejects %j', (s, why) => {
    expect(scheduleProblem(s)).toMatch(why);
  });
  it('knows IANA time zones', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Etc/UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});
