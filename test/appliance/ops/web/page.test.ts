// The status page in a real browser (Debian's chromium through playwright-core) against a running
// appliance whose queue was filled by nodemailer through a smarthost that refuses with 451 (and 550
// for one mailbox, which makes a dead letter). Screenshots land in var/screenshots/.
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  fillQueue,
  type RefusingSmarthost,
  refusingSmarthost,
  viaSmarthost,
} from '../../../helpers/admin-http.ts';
import { applianceSandbox, sendMail, type TestAppliance, waitFor } from '../../../helpers/appliance.ts';
import { type Browser, launch, requireChromium, SCREENSHOTS } from '../../../helpers/browser.ts';

const sandbox = applianceSandbox('relaykit-page-');
let smarthost: RefusingSmarthost;
let browser: Browser | undefined;
let t: TestAppliance;
let base: string;
let ids: string[];

beforeEach(async (ctx) => {
  requireChromium(ctx);
  smarthost = await refusingSmarthost();
  t = await sandbox.start(viaSmarthost(smarthost.sink.port));
  base = `http://127.0.0.1:${t.app.httpPort}`;
  ids = await fillQueue(t, 3);
  await sendMail(t.port, { subject: 'to a missing mailbox', to: 'nobody@example.com' });
  await waitFor(
    async () => ((await t.app.admin.list('dead')).length === 1 ? true : undefined),
    10_000,
    'a dead letter',
  );
});

afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await sandbox.stop();
  await smarthost?.close();
});

async function open(url = `${base}/`, opts: Parameters<typeof launch>[0] = {}): Promise<Page> {
  browser ??= await launch(opts);
  const page = await browser.context.newPage();
  await page.goto(url);
  return page;
}

const metric = (page: Page, name: string) => page.locator(`[data-metric="${name}"]`).textContent();

describe('status page', () => {
  it("shows the filled queue's real numbers, each route's state with its last error, and the dead letter's reason", async () => {
    const page = await open();
    expect(await page.title()).toBe('Needs attention · relaykit relaykit.local');
    expect(await metric(page, 'queue-depth')).toBe('3');
    expect(await metric(page, 'dead-letters')).toBe('1');
    expect(await metric(page, 'accepted')).toBe('4');
    expect(await page.locator('tbody tr[data-id]').count()).toBe(4);
    const route = page.locator('tr[data-route="smarthost"]');
    expect(await route.locator('.badge').textContent()).toBe('degraded');
    expect(await route.textContent()).toContain('451');
    expect(await route.textContent()).toContain('try again later (test smarthost)');
    const dead = page.locator('section[aria-labelledby="h-dead"] tbody tr');
    expect(await dead.textContent()).toContain('no such mailbox (test smarthost)');
    // Accessible names for every control, labels for the form fields.
    expect(await page.getByRole('button', { name: `Retry message ${ids[0]} now` }).count()).toBe(1);
    expect(await page.getByLabel('To address').count()).toBe(1);
    expect(await page.locator('body').textContent()).not.toContain('hello');
    await page.screenshot({ path: join(SCREENSHOTS, 'status-page.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(SCREENSHOTS, 'status-page-phone.png'), fullPage: true });
    // Keyboard: Tab reaches the first retry button.
    await page.setViewportSize({ width: 1280, height: 900 });
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate("document.activeElement?.getAttribute('data-action')")) === 'retry';
    }
    expect(reached).toBe(true);
  });

  it('a retry click moves the message; a delete asks first and Cancel keeps the message', async () => {
    const page = await open();
    smarthost.refusing = false;
    const first = ids[0] as string;
    await page.getByRole('button', { name: `Retry message ${first} now` }).click();
    // The page reloads after the action and says what it did.
    await page.locator('#flash', { hasText: `Retrying ${first}` }).waitFor();
    await waitFor(
      async () => ((await t.app.admin.list('queue')).some((e) => e.id === first) ? undefined : true),
      10_000,
      'the retried message to leave the queue',
    );
    expect(smarthost.sink.messages.length).toBe(1);
    await page.goto(`${base}/`);
    expect(await metric(page, 'queue-depth')).toBe('2');
    expect(await page.locator(`tr[data-id="${first}"]`).count()).toBe(0);

    smarthost.refusing = true;
    const victim = ids[1] as string;
    await page.getByRole('button', { name: `Delete ${victim}` }).click();
    const dialog = page.locator('dialog#confirm');
    expect(await dialog.isVisible()).toBe(true);
    expect(await dialog.textContent()).toContain(
      `Delete queued message ${victim} from scanner@example.com? It will not be delivered.`,
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'delete-confirmation.png') });
    await page.keyboard.press('Escape');
    expect(await dialog.isVisible()).toBe(false);
    expect((await t.app.admin.list('queue')).map((e) => e.id)).toContain(victim);
    await page.getByRole('button', { name: `Delete ${victim}` }).click();
    await page.getByRole('button', { name: 'Yes, do it' }).click();
    await page.locator('#flash', { hasText: `Deleted ${victim}` }).waitFor();
    await waitFor(
      async () => ((await t.app.admin.list('queue')).some((e) => e.id === victim) ? undefined : true),
      5000,
      'the deleted message',
    );
    await page.goto(`${base}/`);
    expect(await metric(page, 'queue-depth')).toBe('1');
  });

  it('sends a test message through a chosen route and lists each step', async () => {
    const page = await open();
    smarthost.refusing = false;
    await page.getByLabel('Route', { exact: true }).selectOption('smarthost');
    await page.getByLabel('To address').fill('tech@example.com');
    await page.getByRole('button', { name: 'Send test' }).click();
    const result = page.locator('#test-result');
    await result.locator('ol.steps li').nth(2).waitFor();
    expect(await result.locator('li').allTextContents()).toEqual([
      '✓ token: the smarthost needs no credential',
      expect.stringMatching(/^✓ request: /),
      expect.stringMatching(/^✓ remote id: /),
    ]);
    smarthost.refusing = true;
    await page.getByRole('button', { name: 'Send test' }).click();
    await result.getByText('Test through smarthost failed').waitFor();
    expect(await result.locator('li').nth(1).textContent()).toMatch(/^✗ request: .*451/);
    await page.screenshot({ path: join(SCREENSHOTS, 'test-message-failed.png'), fullPage: true });
  });

  it('a form posted from another origin and a page under a foreign Host name get nothing done', async () => {
    const before = JSON.stringify(await t.app.admin.list('queue'));
    const transactions = smarthost.sink.transactions;
    const target = `${base}/api/queue/all/retry`;
    const hostile = await hostilePage(`<!doctype html><title>win a prize</title>
<form id="f" method="POST" action="${target}" enctype="text/plain"><input name='{"a":"' value='b"}'></form>
<script>
fetch(${JSON.stringify(target)}, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{}' })
  .then((r) => { document.title = 'fetch ' + r.status; }, () => { document.title = 'fetch blocked'; })
  .finally(() => document.getElementById('f').submit());
</script>`);
    try {
      const page = await open(`${base}/`, { hostRules: 'MAP rebind.test 127.0.0.1' });
      const refused: string[] = [];
      page.on('console', (m) => refused.push(m.text()));
      await page.goto(hostile.url);
      await page.waitForURL(target);
      // The JSON fetch died at the CORS preflight (no CORS headers are ever sent) before the form went.
      expect(refused.join('\n')).toContain('has been blocked by CORS policy');
      expect(await page.locator('body').textContent()).toContain(
        'state-changing requests need Content-Type: application/json',
      );
      expect(JSON.stringify(await t.app.admin.list('queue'))).toBe(before);
      // DNS rebinding: a name the attacker controls now points at 127.0.0.1.
      const rebound = await page.goto(`http://rebind.test:${t.app.httpPort}/`);
      expect(rebound?.status()).toBe(421);
      const api = await page.goto(`http://rebind.test:${t.app.httpPort}/api/queue`);
      expect(api?.status()).toBe(421);
      expect(await page.locator('body').textContent()).not.toContain('scanner@example.com');
      expect(smarthost.sink.transactions).toBe(transactions);
    } finally {
      await hostile.close();
    }
  });
});

describe('live update', () => {
  // The page's clock is Playwright's (page.clock): the 15 s interval is run forward, not waited for.
  async function openWithClock(): Promise<Page> {
    browser ??= await launch();
    const page = await browser.context.newPage();
    await page.clock.install();
    await page.goto(`${base}/`);
    // Set on this document only: still there afterwards means the page was not reloaded.
    await page.evaluate('window.loadedOnce = true');
    return page;
  }
  const queued = (n: number) =>
    waitFor(
      async () => ((await t.app.admin.list('queue')).length === n ? true : undefined),
      15_000,
      `${n} queued`,
    );
  const shows = (page: Page, name: string, value: string) =>
    waitFor(
      async () => ((await metric(page, name)) === value ? true : undefined),
      15_000,
      `${name} ${value}`,
    );
  const note = (page: Page) => page.locator('#live-note').textContent();

  it('shows messages queued after the page loaded without a reload, keeps focus and typing, and announces it', async () => {
    const page = await openWithClock();
    expect(await metric(page, 'queue-depth')).toBe('3');
    expect(await note(page)).toBe('Updates every 15 s');
    // A technician is typing in the test form meanwhile.
    await page.getByLabel('To address').fill('tech@exa');
    await sendMail(t.port, { subject: 'arrived later', to: 'late@example.com' });
    await sendMail(t.port, { subject: 'arrived later too', to: 'late2@example.com' });
    await queued(5);
    await page.clock.runFor(15_000);
    await shows(page, 'queue-depth', '5');
    expect(await page.evaluate('window.loadedOnce')).toBe(true);
    expect(await page.locator('section[aria-labelledby="h-queue"] tbody tr[data-id]').count()).toBe(5);
    expect(await page.locator('section[aria-labelledby="h-queue"]').textContent()).toContain(
      'arrived later too',
    );
    expect(await page.locator('#h-queue').textContent()).toBe('Queued messages (5)');
    expect(await page.evaluate('document.activeElement?.id')).toBe('test-to');
    expect(await page.getByLabel('To address').inputValue()).toBe('tech@exa');
    expect(await page.locator('#live-news').textContent()).toBe(
      'Updated: Needs attention: 5 waiting, 1 dead letters',
    );
    expect(await page.locator('#live-news').getAttribute('aria-live')).toBe('polite');
    expect(await note(page)).toMatch(/^Updated \d\d:\d\d:\d\d UTC · updates every 15 s$/);
    // The buttons of the new rows work: the click handler is the document's, not the old rows'.
    await page
      .getByRole('button', { name: /^Delete / })
      .last()
      .click();
    expect(await page.locator('dialog#confirm').isVisible()).toBe(true);
  });

  it('holds off while the delete confirmation is open and keeps focus on the focused row; Pause stops it', async () => {
    const page = await openWithClock();
    const victim = ids[1] as string;
    await page.getByRole('button', { name: `Delete ${victim}` }).click();
    await sendMail(t.port, { subject: 'during the dialog', to: 'late@example.com' });
    await queued(4);
    await page.clock.runFor(30_000);
    expect(await note(page)).toBe('Paused while the confirmation is open');
    expect(await page.locator('dialog#confirm').isVisible()).toBe(true);
    expect(await page.evaluate('document.activeElement?.id')).toBe('confirm-no');
    expect(await metric(page, 'queue-depth')).toBe('3');
    // Cancel: focus goes back to the Delete button, the next update comes, focus stays on that row.
    await page.keyboard.press('Escape');
    await page.clock.runFor(15_000);
    await shows(page, 'queue-depth', '4');
    expect(await page.evaluate('document.activeElement?.getAttribute("aria-label")')).toBe(
      `Delete ${victim}`,
    );
    // Pause updates (WCAG 2.2.2): nothing changes however long the page stays open.
    await page.getByRole('button', { name: 'Pause updates' }).click();
    expect(await page.locator('#live-toggle').getAttribute('aria-pressed')).toBe('true');
    await sendMail(t.port, { subject: 'while paused', to: 'late@example.com' });
    await queued(5);
    await page.clock.runFor(60_000);
    expect(await note(page)).toBe('Updates paused');
    expect(await metric(page, 'queue-depth')).toBe('4');
    await page.getByRole('button', { name: 'Resume updates' }).click();
    await shows(page, 'queue-depth', '5');
    expect(await page.evaluate('window.loadedOnce')).toBe(true);
  });
});

async function hostilePage(body: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://localhost:${port}/`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
