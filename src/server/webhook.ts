/**
 * `POST /api/v1/webhooks/git`: push notifications from GitHub, Gitea or GitLab. The signature is
 * the authentication (no bearer token): GitHub's `X-Hub-Signature-256` and Gitea's
 * `X-Gitea-Signature` are HMAC-SHA256 of the body with the shared secret, GitLab's `X-Gitlab-Token`
 * is the secret itself; both compared in constant time. A valid push names a repository and a
 * branch; the server then refreshes the Applications that track them at once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BerthError } from '../api/errors.js';
import { parseJsonBody } from './body.js';

export const WEBHOOK_PATH = '/api/v1/webhooks/git';

export interface GitPush {
  /** Every URL the payload gives for the repository (clone, web, ssh). */
  repoURLs: string[];
  /** The branch pushed to (refs/heads/ stripped), or undefined for tags and others. */
  branch?: string;
}

const equal = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b);

/** Checks the signature; throws Unauthorized (401) when it is missing or wrong. */
export function verifyWebhook(headers: IncomingHttpHeaders, body: Buffer, secret: string | undefined): void {
  if (!secret)
    throw new BerthError(
      'Unauthorized',
      'Unauthorized: webhooks are disabled (start the server with --webhook-secret-file or $BERTH_WEBHOOK_SECRET)',
    );
  const hmac = createHmac('sha256', secret).update(body).digest();
  const github = headers['x-hub-signature-256'];
  const gitea = headers['x-gitea-signature'];
  const gitlab = headers['x-gitlab-token'];
  if (typeof github === 'string' && github.startsWith('sha256=') && equal(Buffer.from(github.slice(7), 'hex'), hmac))
    return;
  if (typeof gitea === 'string' && equal(Buffer.from(gitea, 'hex'), hmac)) return;
  if (typeof gitlab === 'string' && equal(Buffer.from(gitlab), Buffer.from(secret))) return;
  throw new BerthError('Unauthorized', 'Unauthorized: missing or invalid webhook signature');
}

/** The repository and branch of a push payload (GitHub, Gitea and GitLab shapes). */
export function parsePush(body: Buffer): GitPush {
  const parsed = parseJsonBody(body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new BerthError('BadRequest', 'the webhook body is not a JSON object');
  const p = parsed as Record<string, any>;
  const urls = [
    p.repository?.clone_url,
    p.repository?.html_url,
    p.repository?.ssh_url,
    p.repository?.git_http_url,
    p.repository?.url,
    p.project?.git_http_url,
    p.project?.http_url,
    p.project?.web_url,
  ].filter((u): u is string => typeof u === 'string' && u !== '');
  if (urls.length === 0) throw new BerthError('BadRequest', 'the webhook payload names no repository');
  const ref = typeof p.ref === 'string' ? p.ref : '';
  return {
    repoURLs: [...new Set(urls)],
    ...(ref.startsWith('refs/heads/') ? { branch: ref.slice('refs/heads/'.length) } : {}),
  };
}

/** One spelling for comparing repository URLs: no scheme credentials, no `.git`, no trailing slash. */
export function normalizeRepoURL(url: string): string {
  return url
    .trim()
    .replace(/^(https?:\/\/)[^@/]+@/, '$1')
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .toLowerCase();
}
