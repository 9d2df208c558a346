/**
 * The dashboard in a real browser: Debian's chromium, headless, driven by puppeteer-core, against
 * a real `berth server` with a process-runtime agent and a Git repository pushed with the git CLI.
 * Signed in with a token, an app turns Progressing → Healthy after a commit without a reload; the
 * pending commit's diff opens; a rollback from the timeline is watched to its end; a pod's logs are
 * followed; a readonly token sees no Secret value and no action button; 200 apps and a 2,000-object
 * app stay quick (the app page's first paint is measured). Screenshots of every page at 1280×800,
 * light and dark, are written to .build/ui-screenshots/ (not committed) for people to look at.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type AgentProcess } from '../helpers/agents.js';
import { buildOnce, startBerthServer, type BerthServerProcess } from '../helpers/berth.js';
import { TestRepo } from '../helpers/git.js';
import { api } from '../helpers/server.js';
import { until } from '../helpers/wait.js';
import { REPO_ROOT } from '../shared.js';

const CHROMIUM = '/usr/lib/chromium/chromium';
const SCREENSHOTS = path.join(REPO_ROOT, '.build', 'ui-screenshots');
const SECRET_VALUE = 'hunter2-dashboard-secret';
const BIG = 2000;
const SMALL_APPS = 200;

const web = (version: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: busybox
          env: [{name: VERSION, value: "${version}"}]
          command: [/bin/busybox, sh, -c, 'i=0; while true; do i=$((i+1)); echo "tick $i $VERSION"; sleep 0.3; done & mkdir -p /tmp/www-$PORT; echo $VERSION > /tmp/www-$PORT/index.html; exec /bin/busybox httpd -f -p $PORT -h /tmp/www-$PORT']
          ports: [{name: http, containerPort: 8080}]
          readinessProbe: {httpGet: {path: /index.html, port: http}, initialDelaySeconds: 3, periodSeconds: 1}
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret}
stringData: {password: ${SECRET_VALUE}}
`;

describe('the dashboard in a browser', () => {
  let server: BerthServerProcess;
  let agent: AgentProcess;
  let repo: TestRepo;
  let browser: Browser;
  let page: Page;
  let readonlyToken: string;
  let v1: string;
  const pageErrors: string[] = [];
  const consoleLines: string[] = [];
  afterEach((context) => {
    if (context.task.result?.state === 'fail')
      console.log(
        `dashboard: page errors ${JSON.stringify(pageErrors)}\nconsole:\n${consoleLines.slice(-40).join('\n')}`,
      );
  });

  beforeAll(async () => {
    buildOnce();
    mkdirSync(SCREENSHOTS, { recursive: true });
    repo = new TestRepo();
    repo.write({
      'web/app.yaml': web('v1'),
      'big/objects.yaml': Array.from(
        { length: BIG },
        (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big-${i}}\ndata: {i: "${i}"}\n`,
      ).join('---\n'),
      ...Object.fromEntries(
        Array.from({ length: SMALL_APPS }, (_, i) => [
          `small/s${i}/cm.yaml`,
          `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: small-${i}}\ndata: {i: "${i}"}\n`,
        ]),
      ),
    });
    v1 = repo.commit('web v1');
    server = await startBerthServer({ args: ['--log-level', 'warn'] });
    agent = await startAgent(server, { name: 'ui-node', address: '127.0.0.71', runtime: 'process' });
    readonlyToken = (await server.cli('token', 'create', '--role', 'readonly')).out.trim();
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      acceptInsecureCerts: true,
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
      defaultViewport: { width: 1280, height: 800 },
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    // Nothing but this server may be asked for anything.
    await page.setRequestInterception(true);
    page.on('request', (r) => {
      if (r.url().startsWith(server.url) || r.url().startsWith('blob:') || r.url().startsWith('data:'))
        void r.continue();
      else {
        pageErrors.push(`request to another host: ${r.url()}`);
        void r.abort();
      }
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.stop();
    await server?.stop();
    repo?.remove();
  });

  const request = (method: string, p: string, body?: unknown) =>
    api(server, method, p, { token: server.token, ...(body !== undefined ? { body } : {}) });
  // What runs in the page is typed loosely: this project's types are Node's, not the DOM's.
  const text = (p: Page, selector: string): Promise<string> => p.$eval(selector, (e: any) => e.innerText as string);
  const inPage = <T>(p: Page, f: (arg?: string) => T, arg?: string) => p.evaluate(f, arg) as Promise<Awaited<T>>;
  const waitText = (p: Page, selector: string, wanted: RegExp | string, ms = 30_000) => {
    let last = '';
    return until(
      `${selector} shows ${wanted}`,
      async () => {
        last = await text(p, selector).catch((e: Error) => e.message);
        return (typeof wanted === 'string' ? last.includes(wanted) : wanted.test(last)) && last;
      },
      ms,
      () => last.slice(0, 2000),
    );
  };
  /** This page as it looks now, in both themes. */
  const shoot = async (p: Page, name: string) => {
    for (const theme of ['light', 'dark']) {
      await inPage(p, (t) => ((globalThis as any).document.documentElement.dataset.theme = t), theme);
      await p.screenshot({ path: path.join(SCREENSHOTS, `${name}-${theme}.png`) });
    }
    await inPage(p, () => ((globalThis as any).document.documentElement.dataset.theme = 'light'));
  };
  const signIn = async (p: Page, token: string) => {
    await p.goto(`${server.url}/ui/`);
    await p.waitForSelector('input#token');
    await p.type('input#token', token);
    await p.click('button[type=submit]');
    await p.waitForSelector('[data-testid=apps]');
  };
  /** Clicks an action button, then its confirmation; returns what the page said came of it. */
  const act = async (p: Page, selector: string) => {
    await p.click(selector);
    await p.waitForSelector('[data-confirm]');
    await p.click('[data-confirm]');
    return waitText(p, '[data-testid=action-result]', /requested|restarted|deleted|follows/);
  };
  /** Health texts the app's status showed, sampled until `done` holds of the status text. */
  const watchHealth = async (p: Page, done: (status: string) => boolean, ms = 60_000) => {
    const seen: string[] = [];
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const status = await text(p, '[data-testid=app-status]').catch(() => '');
      const health = /Healthy|Progressing|Degraded|Missing|Unknown|Suspended/.exec(status)?.[0];
      if (health && seen[seen.length - 1] !== health) seen.push(health);
      if (done(status)) return seen;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out; the app's status went ${seen.join(' → ')}`);
  };

  it('signs in, and an app turns Progressing → Healthy after a commit without a reload; the pending commit’s diff opens first', async () => {
    await page.goto(`${server.url}/ui/`);
    await page.waitForSelector('input#token');
    await shoot(page, 'signin');
    // A bad token is refused on the form.
    await page.type('input#token', 'not-a-token');
    await page.click('button[type=submit]');
    await waitText(page, '.error', /token/i);
    await page.$eval('input#token', (e: any) => (e.value = ''));
    await page.type('input#token', server.token);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=apps]');
    // The cookie is the session's: HttpOnly, Secure, SameSite=Strict.
    const cookie = (await browser.cookies()).find((c) => c.name === 'berth_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict' });
    expect(await inPage(page, () => (globalThis as any).document.cookie as string)).not.toContain('berth_session');

    const created = await server.cli(
      'app',
      'create',
      'web',
      '--repo',
      repo.bare,
      '--path',
      'web',
      '--auto-sync',
      '--poll-interval',
      '1h',
    );
    expect(created.code, created.err).toBe(0);
    await waitText(page, '[data-app="default/web"]', 'Healthy', 60_000);
    await waitText(page, '[data-app="default/web"]', 'web v1');
    await waitText(page, '[data-app="default/web"]', 'busybox');
    await shoot(page, 'apps');
    await inPage(page, () => ((globalThis as any).notReloaded = true));

    const v2 = repo.write({ 'web/app.yaml': web('v2') }).commit('web v2');
    await page.click('[data-app="default/web"] a');
    await page.waitForSelector('[data-testid=resource-tree]');
    await waitText(page, '[data-testid=resource-tree]', 'Running');
    await shoot(page, 'app-tree');
    // The commit is pending (an hour's poll, no webhook): its diff is what a sync would do.
    await page.click('[data-view=diff]');
    await waitText(page, '[data-testid=diff]', v2.slice(0, 7));
    await waitText(page, '[data-testid=diff]', /^-\s+value: v1\n\+\s+value: v2$/m);
    await shoot(page, 'diff');
    await page.click('[data-testid=diff] button'); // Collapse all
    expect(await page.$$eval('[data-testid=diff] details[open]', (d) => d.length)).toBe(0);

    expect(await act(page, '[data-action=Sync]')).toContain('sync of web requested');
    const seen = await watchHealth(
      page,
      (s) => s.includes(v2.slice(0, 7)) && s.includes('Healthy') && s.includes('Synced'),
    );
    expect(seen, seen.join(' → ')).toContain('Progressing');
    expect(seen[seen.length - 1]).toBe('Healthy');
    expect(await inPage(page, () => (globalThis as any).notReloaded as boolean)).toBe(true);
  }, 180_000);

  it('rolls back from the timeline and watches the rollout to its end', async () => {
    await page.click('nav.tabs a[href*="view=timeline"]');
    await page.waitForSelector(`[data-rollback="${v1}"]`);
    await shoot(page, 'timeline');
    expect(await act(page, `[data-rollback="${v1}"]`)).toContain(`rollback of web to ${v1.slice(0, 7)} requested`);
    const seen = await watchHealth(
      page,
      (s) =>
        s.includes(`pinned to ${v1.slice(0, 7)}`) &&
        s.includes('Healthy') &&
        /\bSynced/.test(s) &&
        s.includes(v1.slice(0, 7)),
    );
    expect(seen, seen.join(' → ')).toContain('Progressing');
    const app = (await request('GET', '/apis/berth.dev/v1/namespaces/default/applications/web')).body;
    expect(app.status.sync.revision).toBe(v1);
    // The timeline shows the rollback's steps.
    await waitText(page, `[data-testid=timeline] [data-revision="${v1}"]`, 'healthy');
  }, 120_000);

  it("follows a pod's logs, live", async () => {
    await page.click('nav.tabs a[href*="view=tree"]');
    await page.waitForSelector('[data-testid=resource-tree] a[href*="/ui/logs/"]');
    await page.click('[data-testid=resource-tree] a[href*="/ui/logs/"]');
    await waitText(page, '[data-testid=log]', /tick \d+ v1/);
    const count = async () => (await text(page, '[data-testid=log]')).split('\n').length;
    const first = await count();
    await until('more lines followed', async () => (await count()) > first + 3, 15_000);
    await shoot(page, 'logs');
    // Filtered as they come.
    await page.type('.filters input[type=search]', 'tick 1');
    await until('only matching lines', async () =>
      (await text(page, '[data-testid=log]')).split('\n').every((l: string) => l.includes('tick 1')),
    );
  }, 60_000);

  it('a readonly token sees no Secret value and no action button', async () => {
    // The admin sees the value (so that its absence below means something).
    await page.goto(`${server.url}/ui/apps/default/web?resource=Secret/default/web-secret`);
    await waitText(page, '[data-testid=live-yaml]', Buffer.from(SECRET_VALUE).toString('base64'));
    await shoot(page, 'resource-panel');

    const context = await browser.createBrowserContext();
    try {
      const ro = await context.newPage();
      await signIn(ro, readonlyToken);
      await ro.goto(`${server.url}/ui/apps/default/web?resource=Secret/default/web-secret`);
      await waitText(ro, '[data-testid=live-yaml]', 'password:');
      await ro.click('[data-testid=resource-panel] [role=tab]:nth-child(2)'); // Desired
      await waitText(ro, '[data-testid=desired-yaml]', 'password:');
      for (const view of ['', '?view=timeline', '?view=diff', '?resource=Deployment/default/web'])
        await ro
          .goto(`${server.url}/ui/apps/default/web${view}`)
          .then(() => ro.waitForSelector('[data-testid=app-status]'));
      await ro.goto(`${server.url}/ui/apps/default/web?view=timeline`);
      await ro.waitForSelector('[data-testid=timeline]');
      expect(await ro.$$('[data-action]')).toHaveLength(0);
      await ro.goto(`${server.url}/ui/apps/default/web?resource=Secret/default/web-secret`);
      await waitText(ro, '[data-testid=live-yaml]', 'password:');
      expect(await ro.$$('[data-action]')).toHaveLength(0);
      const html = await ro.content();
      expect(html).not.toContain(SECRET_VALUE);
      expect(html).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'));
      // Its API calls are the readonly role's: a write is refused even with the CSRF header.
      const write = await ro.evaluate(async () => {
        const r = await fetch('/api/v1/namespaces/default/configmaps', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'x-berth-csrf': '1' },
          body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ro' } }),
        });
        return r.status;
      });
      expect(write).toBe(403);
    } finally {
      await context.close();
    }
    // A cookie-signed write without the CSRF header is refused, whoever signed in.
    const noCsrf = await page.evaluate(async () => {
      const r = await fetch('/api/v1/namespaces/default/configmaps', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'csrf' } }),
      });
      return r.status;
    });
    expect(noCsrf).toBe(403);
  }, 60_000);

  it('stays quick with 200 apps and a 2,000-object app; the cluster page shows the node and the leader', async () => {
    const created = await server.cli('app', 'create', 'big', '--repo', repo.bare, '--path', 'big', '--auto-sync');
    expect(created.code, created.err).toBe(0);
    for (let i = 0; i < SMALL_APPS; i++) {
      const r = await request('POST', '/apis/berth.dev/v1/namespaces/default/applications', {
        apiVersion: 'berth.dev/v1',
        kind: 'Application',
        metadata: { name: `small-${i}`, labels: { team: i % 2 ? 'odd' : 'even' } },
        spec: { source: { repoURL: repo.bare, path: `small/s${i}` }, pollInterval: '1h' },
      });
      expect(r.status).toBe(201);
    }
    await until(
      'big Synced',
      async () =>
        (await request('GET', '/apis/berth.dev/v1/namespaces/default/applications/big')).body.status?.resources
          ?.length === BIG,
      120_000,
    );
    await page.goto(`${server.url}/ui/`);
    await until('every tile', async () => (await page.$$('[data-testid=apps] li')).length === SMALL_APPS + 2, 60_000);
    await shoot(page, 'apps-many');
    // The filter narrows them at once (a label).
    await page.goto(`${server.url}/ui/?label=team%3Dodd`);
    await until('odd apps', async () => (await page.$$('[data-testid=apps] li')).length === SMALL_APPS / 2);

    // First paint of the big app's page: from navigation to its resource tree on screen.
    const paints: number[] = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`${server.url}/ui/apps/default/big`);
      await page.waitForSelector('[data-testid=resource-tree] details');
      paints.push(await page.evaluate(() => Math.round(performance.now())));
    }
    const paint = [...paints].sort((a, b) => a - b)[1]!;
    console.log(
      `dashboard: ${SMALL_APPS + 2} apps; first paint of a ${BIG}-object app's page ${paints.join(', ')} ms (median ${paint})`,
    );
    expect(paint).toBeLessThanOrEqual(1000);
    // The large group starts collapsed; the table pages.
    expect(await page.$$eval('[data-testid=resource-tree] details[open]', (d) => d.length)).toBe(0);
    await page.click('[data-testid=resource-tree] summary');
    await until(
      'the opened group drawn',
      async () => (await page.$$('[data-testid=resource-tree] li[data-resource]')).length === BIG,
    );
    await shoot(page, 'app-big');
    await page.click('nav.tabs a[href*="view=table"]');
    await page.waitForSelector('[data-testid=resource-table] tbody tr');
    expect(await page.$$('[data-testid=resource-table] tbody tr')).toHaveLength(200);

    await page.goto(`${server.url}/ui/cluster`);
    await waitText(page, '[data-testid=nodes]', 'ui-node');
    await waitText(page, '[data-testid=nodes]', 'Ready');
    await waitText(page, '[data-testid=servers]', 'leader');
    await shoot(page, 'cluster');
    expect(pageErrors).toEqual([]);
    console.log(`dashboard: screenshots in ${SCREENSHOTS}`);
  }, 240_000);
});
