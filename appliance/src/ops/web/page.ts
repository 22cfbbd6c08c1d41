// The status page and the login page, rendered on the server from a PageModel (model.ts). One HTML
// document each, inline style and script under a fresh CSP nonce, readable on a phone (cards stack,
// tables scroll sideways), states always spelled out in words beside their colour.

import { age } from '../../config/units.ts';
import { pageCsp } from '../admin/guard.ts';
import { randomToken } from '../admin/secret.ts';
import { LOGIN_SCRIPT, PAGE_SCRIPT, STYLE } from './assets.ts';
import { html, Markup } from './html.ts';
import { LIVE_SCRIPT, REFRESH_SECONDS } from './live-update.ts';
import type { Light, PageEntry, PageModel } from './model.ts';

export interface Viewer {
  readonly user: string;
  readonly role: string;
  readonly csrf: string;
  /** On the LAN listener: show who is logged in and a log-out button. */
  readonly lan: boolean;
}

const WORDS: Record<Light, string> = { green: 'OK', amber: 'Needs attention', red: 'Action needed' };
const ROUTE_LIGHT = { ok: 'green', degraded: 'amber', failing: 'red' } as const;

function badge(light: Light, text: string, extra = ''): Markup {
  return html`<span class="badge ${light}${extra ? ` ${extra}` : ''}">${text}</span>`;
}

function doc(title: string, nonce: string, body: Markup, script: string, head: Markup = html``): string {
  // STYLE and script are constants of this module, never request data: inserted as markup.
  return `<!doctype html>\n${
    html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>${head}
<style nonce="${nonce}">${new Markup(STYLE)}</style></head>
<body>${body}<script nonce="${nonce}">${new Markup(script)}</script></body></html>`.text
  }\n`;
}

function entryRows(rows: readonly PageEntry[], folder: 'queue' | 'dead', admin: boolean): Markup {
  if (rows.length === 0)
    return html`<p class="empty">${folder === 'queue' ? 'The queue is empty.' : 'No dead letters.'}</p>`;
  return html`<div class="scroll"><table class="stack">
<caption class="sr-only">${folder === 'queue' ? 'Queued messages' : 'Dead letters'}</caption>
<thead><tr><th scope="col">Received</th><th scope="col">From</th><th scope="col" class="num">Rcpts</th><th scope="col">Subject</th><th scope="col">Route</th><th scope="col" class="num">Tries</th><th scope="col">${folder === 'queue' ? 'Last error / next try' : 'Reason and fix'}</th>${admin ? html`<th scope="col">Actions</th>` : ''}</tr></thead>
<tbody>${rows.map(
    (e) => html`<tr data-id="${e.id}">
<td data-label="Received"><span><time datetime="${e.receivedAt}">${age(e.ageSeconds * 1000)} ago</time><br><span class="hint">${e.id}</span></span></td>
<td data-label="From">${e.from}</td><td data-label="Rcpts" class="num">${e.recipients}</td><td data-label="Subject">${e.subject ?? ''}</td><td data-label="Route">${e.routes}</td><td data-label="Tries" class="num">${e.attempts}</td>
<td data-label="${folder === 'queue' ? 'Last error' : 'Reason'}"><span>${e.reason ?? (folder === 'queue' ? 'not tried yet' : '')}${e.hint ? html`<br><span class="hint">Fix: ${e.hint}</span>` : ''}${e.nextAttemptAt ? html`<br><span class="hint">next try <time datetime="${e.nextAttemptAt}">${e.nextAttemptAt.slice(11, 19)} UTC</time></span>` : ''}</span></td>
${
  admin
    ? html`<td data-label="Actions"><span>${
        folder === 'queue'
          ? html`<button type="button" data-action="retry" data-id="${e.id}" aria-label="Retry message ${e.id} now">Retry</button> `
          : html`<button type="button" data-action="requeue" data-id="${e.id}" data-confirm="Put dead letter ${e.id} back in the queue for another delivery attempt?" aria-label="Requeue dead letter ${e.id}">Requeue</button> `
      }<button type="button" class="danger" data-action="delete" data-folder="${folder}" data-id="${e.id}" data-confirm="Delete ${folder === 'queue' ? 'queued message' : 'dead letter'} ${e.id} from ${e.from}? It will not be delivered." aria-label="Delete ${e.id}">Delete</button></span></td>`
    : ''
}</tr>`,
  )}</tbody></table></div>`;
}

export function renderStatusPage(m: PageModel, viewer: Viewer): { html: string; csp: string } {
  const nonce = randomToken(16);
  const admin = viewer.role === 'admin';
  const rate = (v: number | undefined) => (v === undefined ? 'n/a' : `${v}/min`);
  const body = html`
<header>
  <div><h1>relaykit · ${m.hostname}</h1>
  <div class="meta" data-live="meta">version ${m.version} · up ${age(m.uptimeSeconds * 1000)} · updated <time datetime="${m.generatedAt}">${m.generatedAt.slice(11, 19)} UTC</time></div></div>
  <div><span data-live="overall">${badge(m.overall.state, WORDS[m.overall.state], 'overall')}</span> <a href="/">Refresh</a>${
    viewer.lan
      ? html` · <span class="meta">${viewer.user} (${viewer.role})</span> <button type="button" id="logout">Log out</button>`
      : ''
  }</div>
</header>
<main>
<p id="flash" class="flash" role="status" aria-live="polite" hidden></p>
<p class="meta"><span id="live-note"></span> <button type="button" id="live-toggle" aria-pressed="false" hidden>Pause updates</button></p>
<p id="live-news" class="sr-only" role="status" aria-live="polite"></p>
<div data-live="body">
${m.overall.reasons.length > 0 ? html`<ul aria-label="What needs attention">${m.overall.reasons.map((r) => html`<li>${r}</li>`)}</ul>` : ''}
<div class="cards">
  <div class="card" aria-labelledby="c-intake"><h2 id="c-intake">Intake</h2>${badge(m.intake.state, m.intake.detail)}${m.intake.hint ? html`<p class="hint">Fix: ${m.intake.hint}</p>` : ''}
    ${
      m.intake.acceptedPerMinute === undefined
        ? html`<p><span class="big">${m.intake.acceptedTotal}</span> accepted since start</p>`
        : html`<p><span class="big" data-metric="accepted-rate">${rate(m.intake.acceptedPerMinute)}</span> accepted</p>`
    }
    <p class="meta">since start: <span data-metric="accepted">${m.intake.acceptedTotal}</span> accepted, <span data-metric="refused">${m.intake.refusedTotal}</span> refused${m.intake.refusedPerMinute === undefined ? '' : ` (${rate(m.intake.refusedPerMinute)})`}</p></div>
  <div class="card" aria-labelledby="c-queue"><h2 id="c-queue">Queue</h2>
    <p><span class="big" data-metric="queue-depth">${m.queue.depth}</span> waiting</p>
    <p class="meta">oldest <span data-metric="oldest-age">${m.queue.depth > 0 ? age(m.queue.oldestAgeSeconds * 1000) : '–'}</span> · ${m.queue.inFlight} sending now</p></div>
  <div class="card" aria-labelledby="c-dead"><h2 id="c-dead">Dead letters</h2>
    <p><span class="big" data-metric="dead-letters">${m.queue.deadLetters}</span></p>
    <p class="meta">${m.queue.quarantined} unreadable spool file(s) quarantined</p></div>
  <div class="card" aria-labelledby="c-disk"><h2 id="c-disk">Disk</h2>${badge(m.disk.state, WORDS[m.disk.state])}<p class="meta">${m.disk.detail}</p></div>
</div>
<section aria-labelledby="h-routes"><h2 id="h-routes">Routes</h2><div class="scroll"><table class="stack">
<thead><tr><th scope="col">Route</th><th scope="col">Type</th><th scope="col">State</th><th scope="col" class="num">Queued</th><th scope="col">Last error and fix</th></tr></thead>
<tbody>${m.routes.map(
    (
      r,
    ) => html`<tr data-route="${r.name}"><td data-label="Route">${r.name}</td><td data-label="Type">${r.type}</td><td data-label="State">${badge(ROUTE_LIGHT[r.state], r.state)}</td><td data-label="Queued" class="num">${r.queued}</td>
<td data-label="Last error"><span>${r.lastError ?? '–'}${r.hint ? html`<br><span class="hint">Fix: ${r.hint}</span>` : ''}</span></td></tr>`,
  )}</tbody></table></div></section>
<section aria-labelledby="h-queue"><h2 id="h-queue">Queued messages (${m.queue.depth})</h2>
${admin && m.queued.length > 0 ? html`<p><button type="button" data-action="retry" data-id="all">Retry all now</button></p>` : ''}
${entryRows(m.queued, 'queue', admin)}</section>
<section aria-labelledby="h-dead"><h2 id="h-dead">Dead letters (${m.queue.deadLetters})</h2>${entryRows(m.dead, 'dead', admin)}</section>
<section aria-labelledby="h-expiry"><h2 id="h-expiry">Credentials and certificates</h2>${
    m.expiries.length === 0
      ? html`<p class="empty">None configured.</p>`
      : html`<ul>${m.expiries.map((x) => html`<li>${badge(x.state, WORDS[x.state])} ${x.kind} <strong>${x.name}</strong>: ${x.detail}</li>`)}</ul>`
  }</section>
</div>
${
  admin
    ? html`<section aria-labelledby="h-test"><h2 id="h-test">Send a test message</h2>
<form id="test-form" class="inline"><div><label for="test-route">Route</label><select id="test-route" name="route">${m.routes.map((r) => html`<option value="${r.name}">${r.name} (${r.type})</option>`)}</select></div>
<div><label for="test-to">To address</label><input id="test-to" name="to" type="email" required autocomplete="email" placeholder="you@example.com"></div>
<div><button type="submit" class="primary">Send test</button></div></form>
<div id="test-result" role="status" aria-live="polite"></div></section>`
    : ''
}
<dialog id="confirm" aria-labelledby="confirm-text"><p id="confirm-text"></p>
<p><button type="button" id="confirm-yes" class="danger">Yes, do it</button> <button type="button" id="confirm-no" autofocus>Cancel</button></p></dialog>
</main>
<footer class="meta">Message bodies are never shown here. JSON: <a href="/status">/status</a> · <a href="/metrics">/metrics</a></footer>`;
  return {
    html: doc(
      `${WORDS[m.overall.state]} · relaykit ${m.hostname}`,
      nonce,
      body,
      PAGE_SCRIPT + LIVE_SCRIPT,
      html`<meta name="csrf-token" content="${viewer.csrf}">
<meta name="refresh-seconds" content="${REFRESH_SECONDS}">`,
    ),
    csp: pageCsp(nonce),
  };
}

export function renderLoginPage(): { html: string; csp: string } {
  const nonce = randomToken(16);
  const body = html`<main><section class="login" aria-labelledby="h-login">
<h1 id="h-login">relaykit appliance</h1><p class="meta">Log in to see and manage the mail queue.</p>
<form id="login"><label for="username">User name</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<p id="login-error" class="flash red" role="alert" hidden></p>
<p><button type="submit" class="primary">Log in</button></p></form></section></main>`;
  return { html: doc('Log in · relaykit', nonce, body, LOGIN_SCRIPT), csp: pageCsp(nonce) };
}
