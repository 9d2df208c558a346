/**
 * Durations as Kubernetes, Argo CD and Go write them ("500ms", "30s", "1m30s", "2h"), and days
 * ("7d") for token lifetimes: the one parser of every flag and field that takes one. Bad input is
 * an error naming it, never a silent default.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+$/;

/** Milliseconds; throws when `text` is not a duration. */
export function parseDuration(text: string): number {
  if (!DURATION.test(text))
    throw new Error(`${JSON.stringify(text)} is not a duration (like 500ms, 30s, 1m30s, 2h or 7d)`);
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNITS[m[2]!]!;
  return Math.round(total);
}

/** "5s", "3m12s", "4h", "12d": kubectl's HumanDuration. */
export function age(timestamp: string | undefined, now: number): string {
  if (!timestamp) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  return d < 730 ? `${d}d` : `${Math.floor(d / 365)}y`;
}
