/**
 * Credentials are bound to where they may go (as Argo CD's repo-creds): a Secret holding a Git
 * password or a commit-status token names the URL prefix it is for (`url`), and is sent to
 * nothing else — not to a repository an Application in the same namespace points elsewhere, not
 * over plain http:// unless the Secret itself says `insecure: "true"`. Pure.
 */
export type CredentialCheck = { ok: true } | { ok: false; problem: string };

/** Whether `target` is within the URL prefix `prefix`, at a path boundary (`…/team` is not `…/team-evil`). */
export function withinPrefix(target: string, prefix: string): boolean {
  if (target === prefix) return true;
  if (prefix.endsWith('/')) return target.startsWith(prefix);
  return target.startsWith(`${prefix}/`) || target === `${prefix}.git`;
}

/** May the credentials in a Secret (its decoded data) be sent to `target`? */
export function mayUseCredentials(
  secretName: string,
  data: Record<string, string | undefined>,
  target: string,
): CredentialCheck {
  const prefix = data.url?.trim();
  if (!prefix)
    return {
      ok: false,
      problem: `Secret ${secretName} names no url: a credentials Secret says which URL prefix it is for (data.url), and is used for nothing else`,
    };
  if (!withinPrefix(target, prefix))
    return {
      ok: false,
      problem: `Secret ${secretName} is for ${prefix}, not ${target}: its credentials were not sent`,
    };
  if (target.startsWith('http://') && data.insecure?.trim() !== 'true') {
    return {
      ok: false,
      problem: `Secret ${secretName}'s credentials would go over plain http:// to ${target}: refused (set insecure: "true" in the Secret to allow it)`,
    };
  }
  return { ok: true };
}
