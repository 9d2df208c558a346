/** Polls `check` every 200 ms until it gives a truthy value (errors count as not yet); fails after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | false | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
