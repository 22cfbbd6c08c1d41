// The status page's live update: every REFRESH_SECONDS the page fetches itself (same origin, the
// session cookie) and swaps in the parts marked data-live, so queue changes show without a reload.
// It holds off while the confirmation dialog is open or a queue action runs, never moves focus (the
// focused control is found again in the new content, or that update is skipped), stops with the
// user's "Pause updates" (WCAG 2.2.2) and when the tab is hidden, and announces a change of the
// headline figures in a polite live region, not each update. Inlined under the page's CSP nonce.

/** Seconds between updates of an open status page. */
export const REFRESH_SECONDS = 15;

export const LIVE_SCRIPT = `
(() => {
  const seconds = Number(document.querySelector('meta[name="refresh-seconds"]')?.content || 0);
  const note = document.getElementById('live-note');
  const news = document.getElementById('live-news');
  const toggle = document.getElementById('live-toggle');
  const dialog = document.getElementById('confirm');
  if (!(seconds > 0) || !note || !news || !toggle) return;
  const every = 'Updates every ' + seconds + ' s';
  let paused = false, running = false, ended = false;
  note.textContent = every;
  toggle.hidden = false;
  toggle.addEventListener('click', () => {
    paused = !paused;
    toggle.setAttribute('aria-pressed', String(paused));
    toggle.textContent = paused ? 'Resume updates' : 'Pause updates';
    note.textContent = paused ? 'Updates paused' : every;
    if (!paused) update();
  });
  const text = (sel) => (document.querySelector(sel)?.textContent || '').trim();
  const summary = () => text('[data-live="overall"]') + ': ' + text('[data-metric="queue-depth"]') + ' waiting, ' +
    text('[data-metric="dead-letters"]') + ' dead letters';
  const held = () => (dialog && dialog.open ? 'Paused while the confirmation is open'
    : document.body.dataset.busy ? 'Paused while an action runs' : '');
  // The focused control inside a live part, as a selector that finds its twin in the new content.
  function focusKey() {
    const a = document.activeElement;
    if (!a || !a.closest('[data-live]')) return undefined;
    if (a.id) return '#' + CSS.escape(a.id);
    if (!a.dataset.action) return '';
    return 'button' + ['action', 'id', 'folder'].filter((k) => a.dataset[k] !== undefined)
      .map((k) => '[data-' + k + '="' + CSS.escape(a.dataset[k]) + '"]').join('');
  }
  async function update() {
    if (paused || ended || running || document.hidden) return;
    if (held()) { note.textContent = held(); return; }
    running = true;
    try {
      const res = await fetch(location.pathname, { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'text/html' } });
      if (new URL(res.url).pathname === '/login') {
        ended = true;
        note.textContent = news.textContent = 'Your session ended: reload the page to log in again';
        return;
      }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const next = new DOMParser().parseFromString(await res.text(), 'text/html');
      if (paused) return;
      if (held()) { note.textContent = held(); return; }
      const key = focusKey();
      if (key === '' || (key && !next.querySelector(key))) {
        note.textContent = 'Not updated: the item that has focus changed; move focus to update';
        return;
      }
      const before = summary();
      for (const part of document.querySelectorAll('[data-live]')) {
        const twin = next.querySelector('[data-live="' + part.dataset.live + '"]');
        if (twin) part.replaceWith(document.adoptNode(twin));
      }
      document.title = next.title;
      if (key) document.querySelector(key)?.focus({ preventScroll: true });
      note.textContent = 'Updated ' + text('[data-live="meta"] time') + ' · ' + every.toLowerCase();
      const after = summary();
      if (after !== before) news.textContent = 'Updated: ' + after;
    } catch (e) {
      note.textContent = 'Update failed (' + e.message + '); the figures shown are older';
    } finally {
      running = false;
    }
  }
  setInterval(update, seconds * 1000);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) update(); });
})();
`;
