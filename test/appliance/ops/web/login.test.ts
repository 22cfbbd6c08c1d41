// The admin listener in a real browser: plain HTTP gets nothing, HTTPS with the appliance's own
// self-signed certificate (trusted by its SPKI pin, as a technician who checked the fingerprint
// would) leads to the login form; a wrong password is refused, the right one opens the page.
import { createHash, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../../appliance/src/receiver/password.ts';
import { applianceSandbox, waitFor } from '../../../helpers/appliance.ts';
import { type Browser, launch, requireChromium, SCREENSHOTS } from '../../../helpers/browser.ts';

const sandbox = applianceSandbox('relaykit-login-');
let browser: Browser | undefined;

afterEach(async () => {
  await browser?.close();
  browser = undefined;
});

describe('admin listener in a browser', () => {
  it('demands TLS and a login; a wrong password is refused; the right one shows the page with who is logged in', async (ctx) => {
    requireChromium(ctx);
    const passwordHash = await hashPassword('correct horse battery', { N: 1024 });
    const t = await sandbox.start((c) => ({
      ...c,
      admin: {
        listener: { address: '127.0.0.1', port: 0, tls: { directory: join(sandbox.dir, 'admin-tls') } },
        users: [{ username: 'tech', passwordHash, role: 'admin' }],
        loginFailures: { delay: '1ms' },
      },
    }));
    const surface = t.app.adminSurface;
    if (!surface) throw new Error('no admin listener');
    const port = (surface.server.address() as { port: number }).port;
    const spki = createHash('sha256')
      .update(new X509Certificate(surface.tls.cert).publicKey.export({ type: 'spki', format: 'der' }))
      .digest('base64');
    browser = await launch({ trustSpki: [spki], viewport: { width: 800, height: 700 } });
    const plain = await browser.context.newPage();
    await expect(plain.goto(`http://127.0.0.1:${port}/`)).rejects.toThrow(/net::ERR_/);
    await plain.close();

    const page = await browser.context.newPage();
    await page.goto(`https://127.0.0.1:${port}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.getByLabel('User name').fill('tech');
    await page.getByLabel('Password').fill('not it');
    await page.getByRole('button', { name: 'Log in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe('wrong user name or password');
    await page.screenshot({ path: join(SCREENSHOTS, 'login-refused.png') });

    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`https://127.0.0.1:${port}/`);
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    expect(await page.locator('header').textContent()).toContain('tech (admin)');
    const [cookie] = await browser.context.cookies(`https://127.0.0.1:${port}/`);
    expect(cookie).toMatchObject({
      name: '__Host-relaykit',
      secure: true,
      httpOnly: true,
      sameSite: 'Strict',
    });
    // A second tab of the same session, its live update on Playwright's clock.
    const other = await browser.context.newPage();
    await other.clock.install();
    await other.goto(`https://127.0.0.1:${port}/`);
    expect(await other.locator('#live-note').textContent()).toBe('Updates every 15 s');

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`https://127.0.0.1:${port}/login`);
    await page.goto(`https://127.0.0.1:${port}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    // The other tab's next update finds the session ended: it says so and stops, it does not
    // paint the login form into the page.
    await other.clock.runFor(15_000);
    const ended = 'Your session ended: reload the page to log in again';
    await waitFor(
      async () => ((await other.locator('#live-note').textContent()) === ended ? true : undefined),
      10_000,
      'the ended-session note',
    );
    expect(await other.locator('#live-news').textContent()).toBe(ended);
    expect(new URL(other.url()).pathname).toBe('/');
    expect(await other.locator('#login').count()).toBe(0);
  });
});
