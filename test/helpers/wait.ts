/**
 * Polls `check` every 200 ms until it gives a truthy value (errors count as not yet); fails after
 * `ms`. `lastSeen`, when given, describes the state at the timeout, so a failure on CI says why.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | false | undefined>,
  ms = 30_000,
  lastSeen?: () => unknown,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${lastSeen ? `; last seen: ${JSON.stringify(lastSeen())}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
