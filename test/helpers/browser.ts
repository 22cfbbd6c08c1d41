// A real browser for page tests: Debian's chromium (/usr/bin/chromium, installed by
// .ci/install/30-chromium.sh) driven by playwright-core, headless, in a fresh profile per launch.
// Locally a missing chromium skips the test with the reason shown; in CI (CI=1) it fails.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Where screenshots go (var/ is gitignored; CI keeps it as the run's artifacts). */
export const SCREENSHOTS = join(import.meta.dirname, '../../var/screenshots');

/** Call at the top of a test: skips it locally when chromium is missing, fails it in CI. */
export function requireChromium(ctx: { skip: (condition: boolean, note?: string) => void }): void {
  if (existsSync(CHROMIUM)) return;
  const reason = `chromium is not installed at ${CHROMIUM} (apt-get install chromium)`;
  if (process.env.CI) throw new Error(`${reason}; .ci/install/30-chromium.sh must install it`);
  ctx.skip(true, reason);
}

export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** Chromium --host-resolver-rules, e.g. "MAP rebind.test 127.0.0.1" (a DNS-rebinding stand-in). */
  readonly hostRules?: string;
  /** base64 SHA-256 SPKI hashes of certificates to accept without a CA (the admin listener's own). */
  readonly trustSpki?: readonly string[];
  readonly viewport?: { width: number; height: number };
}

export async function launch(opts: LaunchOptions = {}): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'relaykit-chromium-'));
  await mkdir(SCREENSHOTS, { recursive: true });
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    ...(opts.hostRules ? [`--host-resolver-rules=${opts.hostRules}`] : []),
    ...(opts.trustSpki?.length ? [`--ignore-certificate-errors-spki-list=${opts.trustSpki.join(',')}`] : []),
  ];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args,
    viewport: opts.viewport ?? { width: 1280, height: 900 },
    timeout: 30_000,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
