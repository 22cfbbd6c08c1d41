// The page renderer and its small parts without a browser: request and spool data never become
// markup, rates need a minute of history, and a viewer gets no action buttons.
import { describe, expect, it } from 'vitest';
import { html } from '../../../../appliance/src/ops/web/html.ts';
import { type PageModel, RateWindow } from '../../../../appliance/src/ops/web/model.ts';
import { renderStatusPage } from '../../../../appliance/src/ops/web/page.ts';

const HOSTILE = `<img src=x onerror="alert(1)">'&`;

function model(): PageModel {
  const entry = {
    id: '0mx1-0000-abc',
    receivedAt: '2026-12-03T07:00:00.000Z',
    ageSeconds: 90,
    from: `${HOSTILE}@example.com`,
    recipients: 1,
    subject: HOSTILE,
    routes: 'smarthost',
    attempts: 2,
    reason: `RELAY_SMTP_REJECTED: ${HOSTILE}`,
    hint: HOSTILE,
  };
  return {
    hostname: 'relay.contoso.lan',
    version: '0.1.0',
    uptimeSeconds: 3600,
    generatedAt: '2026-12-03T07:01:30.000Z',
    overall: { state: 'amber', reasons: [`route smarthost degraded: ${HOSTILE}`] },
    intake: { state: 'green', detail: 'accepting', acceptedTotal: 5, refusedTotal: 1 },
    queue: { depth: 1, oldestAgeSeconds: 90, inFlight: 0, deadLetters: 1, quarantined: 0 },
    routes: [
      { name: 'smarthost', type: 'smtp', state: 'degraded', queued: 1, lastError: HOSTILE, hint: HOSTILE },
    ],
    queued: [entry],
    dead: [entry],
    expiries: [],
    disk: { state: 'green', detail: '1 GiB free' },
  };
}

describe('status page rendering', () => {
  it('escapes every value that came from a device or a remote server', () => {
    const { html: page, csp } = renderStatusPage(model(), {
      user: 'local',
      role: 'admin',
      csrf: 'tok"en',
      lan: false,
    });
    expect(page).not.toContain('<img');
    expect(page).not.toContain('onerror="');
    expect(page).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#39;&amp;');
    expect(page).toContain('<meta name="csrf-token" content="tok&quot;en">');
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(page.match(/<script nonce="([^"]+)">/g)).toEqual([`<script nonce="${nonce}">`]);
  });

  it('a viewer sees the numbers but no action buttons and no test form', () => {
    const { html: page } = renderStatusPage(model(), {
      user: 'watcher',
      role: 'viewer',
      csrf: 't',
      lan: true,
    });
    expect(page).not.toContain('data-action=');
    expect(page).not.toContain('id="test-form"');
    expect(page).toContain('watcher (viewer)');
    expect(page).toContain('data-metric="queue-depth">1<');
  });

  it('html`` escapes interpolations but keeps built markup', () => {
    expect(html`<b>${'<i>'}</b>${html`<i>ok</i>`}`.text).toBe('<b>&lt;i&gt;</b><i>ok</i>');
  });
});

describe('intake rates', () => {
  it('say nothing in the first minute, then count per minute over the window', () => {
    const w = new RateWindow(5 * 60_000);
    const t0 = 1_000_000;
    expect(w.sample(t0, 0, 0)).toEqual({});
    expect(w.sample(t0 + 30_000, 50, 1)).toEqual({});
    expect(w.sample(t0 + 120_000, 60, 4)).toEqual({ accepted: 30, refused: 2 });
    // Ten minutes on, the oldest samples have left the window: 600 - 60 over 8 minutes.
    expect(w.sample(t0 + 600_000, 600, 4)).toEqual({ accepted: 67.5, refused: 0 });
  });
});

describe('contrast', () => {
  // WCAG 2.x relative luminance and contrast ratio; AA asks 4.5:1 for body text.
  const luminance = (hex: string) => {
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a: string, b: string) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
    return (hi + 0.05) / (lo + 0.05);
  };

  it('every state badge, muted text and link meets WCAG AA (4.5:1) on its background', async () => {
    const { STYLE } = await import('../../../../appliance/src/ops/web/assets.ts');
    const v = (name: string) => {
      const m = new RegExp(`--${name}:(#[0-9a-f]{6})`).exec(STYLE);
      if (!m) throw new Error(`no --${name} in the style`);
      return m[1] as string;
    };
    const pairs: [string, string][] = [
      ['ok-fg', 'ok-bg'],
      ['warn-fg', 'warn-bg'],
      ['bad-fg', 'bad-bg'],
      ['muted', 'card'],
      ['muted', 'bg'],
      ['link', 'card'],
      ['fg', 'bg'],
    ];
    for (const [fg, bg] of pairs) expect(ratio(v(fg), v(bg)), `${fg} on ${bg}`).toBeGreaterThanOrEqual(4.5);
  });
});
