/**
 * The web UI in a real headless Chromium (Debian's `chromium`, driven by playwright-core) against a real
 * daemon over a real PostgreSQL: log in with the token, the live feed shows a row change as it is
 * committed, the alert shows its evidence and undo command, a row's history names its actors, the undo
 * preview lists a conflict made by another session, and the one-time link logs in and leaves no token in
 * the address bar. Screenshots at laptop and phone widths go to .tmp/screenshots/ (kept as artefacts).
 *
 * Without /usr/bin/chromium (`apt-get install chromium`; .ci/run installs it) the file is skipped, loudly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startWebRig, TOKEN, type WebRig } from './rig.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`SKIPPED: the web UI browser tests need ${CHROMIUM} (Debian: apt-get install chromium)`);

const SHOTS = join(import.meta.dirname, '..', '..', '.tmp', 'screenshots');
const LAPTOP = { width: 1366, height: 860 };
const PHONE = { width: 390, height: 844 };

describe.skipIf(!hasChromium)('web UI in Chromium', () => {
  let rig: WebRig;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  let alertId: string;
  let alert: any;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    rig = await startWebRig(
      'webui',
      `CREATE TABLE public.accounts (id int PRIMARY KEY, owner text, email text, balance numeric(12,2));
       INSERT INTO accounts SELECT g, 'owner' || g, 'o' || g || '@example.com', g * 10 FROM generate_series(1, 1000) g; ANALYZE accounts;`,
    );
    profile = mkdtempSync(join(tmpdir(), 'rowtrail-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: LAPTOP,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function shoot(name: string): Promise<void> {
    await page.setViewportSize(LAPTOP);
    await page.screenshot({ path: join(SHOTS, `${name}-laptop.png`), fullPage: false });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(SHOTS, `${name}-phone.png`), fullPage: false });
    await page.setViewportSize(LAPTOP);
  }

  it('asks for the token, refuses a wrong one, and opens the live feed with the right one', async () => {
    await page.goto(`${rig.url}/`);
    await page.locator('#login').waitFor();
    // Nothing but the form before login (no navigation into pages that would only say 401).
    expect(await page.locator('#nav').isVisible()).toBe(false);
    await shoot('login');
    await page.fill('#token', 'not-the-token');
    await page.click('#login button[type=submit]');
    await expect.poll(() => page.locator('#login .error').textContent()).toBe('Wrong token.');
    await page.fill('#token', TOKEN);
    await page.click('#login button[type=submit]');
    await page.locator('h1', { hasText: 'Live feed' }).waitFor();
    expect(await page.locator('#nav').isVisible()).toBe(true);
    // The session is a cookie the page's scripts cannot read, and it is not the token.
    expect(await page.evaluate("document.cookie")).toBe('');
    const [cookie] = await browser.cookies(rig.url);
    expect(cookie).toMatchObject({ name: 'rowtrail_session', httpOnly: true, sameSite: 'Strict' });
    expect(cookie.value).not.toContain(TOKEN);
  });

  it('shows a row change in the live feed as soon as it is committed', async () => {
    await page.goto(`${rig.url}/#/feed`);
    await page.locator('#feed-status .dot.live').waitFor();
    const t0 = Date.now();
    await rig.sql(`/*agent='deploy-bot',run='r-live'*/ UPDATE accounts SET owner = 'live-check' WHERE id = 7`);
    const row = page.locator('#feed tbody tr', { hasText: 'live-check' });
    await row.waitFor({ timeout: 10_000 });
    const ms = Date.now() - t0;
    console.log(`feed: the change appeared ${ms} ms after the commit`);
    const text = await row.innerText();
    expect(text).toContain('deploy-bot');
    expect(text).toContain('public.accounts');
    expect(text).toContain('id=7');
    expect(text).toMatch(/owner7\s*→\s*live-check/);
    for (let i = 1; i <= 5; i++) await rig.sql(`UPDATE accounts SET balance = balance + 1 WHERE id = ${100 + i}`);
    await page.locator('#feed tbody tr', { hasText: 'id=105' }).waitFor({ timeout: 10_000 });
    await shoot('feed');
  });

  it('shows the agent’s alert with its evidence and the undo command', async () => {
    await rig.sql(`/*agent='deploy-bot',run='r-bulk'*/ DELETE FROM accounts WHERE id % 10 < 3 AND id > 10`);
    await rig.settled();
    for (const end = Date.now() + 30_000; !alert && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      alert = (await rig.get('/api/v1/alerts')).body.alerts.find((a: any) => a.detector === 'bulk-transaction');
    }
    expect(alert, 'a bulk-transaction alert').toBeTruthy();
    alertId = alert.id;
    await page.goto(`${rig.url}/#/alerts`);
    const card = page.locator(`[data-alert="${alertId}"]`);
    await card.waitFor();
    expect(await card.innerText()).toContain('deploy-bot');
    await card.locator('a.title').click();
    await page.locator('#undo-command').waitFor();
    expect(await page.locator('#undo-command').innerText()).toBe(alert.undo);
    const evidence = await page.locator('#evidence').innerText();
    expect(evidence).toMatch(/deleted\s+297/);
    expect(evidence).toMatch(/tableRows\s+1000/);
    expect(await page.locator('#alert-changes tbody tr').count()).toBe(100);
    await shoot('alert');
  });

  it("shows a row's history with the right actors", async () => {
    await rig.sql(`/*agent='deploy-bot',run='r-hist'*/ UPDATE accounts SET owner = 'bot-was-here' WHERE id = 155`);
    await rig.sql(`UPDATE accounts SET owner = 'fixed-by-hand' WHERE id = 155`);
    await rig.settled();
    await page.goto(`${rig.url}/#/history?table=public.accounts&key=${encodeURIComponent('{"id":"155"}')}`);
    const rows = page.locator('#history tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).innerText()).toMatch(/postgres[\s\S]*bot-was-here\s*→\s*fixed-by-hand/);
    expect(await rows.nth(1).innerText()).toMatch(/deploy-bot[\s\S]*owner155\s*→\s*bot-was-here/);
    await shoot('history');
  });

  it('previews the undo of the alert and lists the conflict another session made', async () => {
    // Another session re-creates one of the rows the agent deleted: reverting the delete would collide.
    await rig.sql(`INSERT INTO accounts VALUES (21, 'someone else', 'x@example.com', 1)`);
    await rig.settled();
    await page.goto(`${rig.url}/#/alerts/${encodeURIComponent(alertId)}`);
    await page.locator('#preview-undo').click();
    await page.locator('#undo-result').waitFor({ timeout: 20_000 });
    expect(await page.locator('#undo-summary').innerText()).toMatch(/Blocked: 1 conflict/);
    const conflict = await page.locator('#conflicts tbody tr').innerText();
    expect(conflict).toContain('public.accounts');
    expect(conflict).toContain('id=21');
    expect(conflict).toMatch(/postgres\s+insert/);
    expect(await page.locator('#steps tbody tr').count()).toBe(297);
    expect(await page.locator('#apply-command').innerText()).toBe(`${alert.undo} --apply`);
    await shoot('undo');
  });

  it('logs in from a one-time link and removes the token from the address bar', async () => {
    await browser.clearCookies();
    await page.goto(`${rig.url}/#token=${encodeURIComponent(TOKEN)}&go=${encodeURIComponent(`/alerts/${alertId}`)}`);
    await page.locator('#undo-command').waitFor();
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.evaluate("location.hash")).toBe(`#/alerts/${alertId}`);
  });
});
