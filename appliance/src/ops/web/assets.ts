// The page's style and script, inlined under a per-response CSP nonce (no CDN, no build, works
// offline; the live update is live-update.ts). The script does three things: confirm-then-call for queue actions (a <dialog>, keyboard
// reachable, Escape cancels), the test-message form, and login. Every call is a same-origin fetch with
// Content-Type application/json and the session's CSRF token, the only shape the API accepts.

export const STYLE = `
:root{--fg:#1a1a1a;--muted:#4a4a4a;--bg:#f6f7f9;--card:#ffffff;--line:#d5d9e0;--link:#0b57d0;
--ok-fg:#14532d;--ok-bg:#dcfce7;--warn-fg:#713f12;--warn-bg:#fef3c7;--bad-fg:#7f1d1d;--bad-bg:#fee2e2}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:1200px;margin:0 auto;padding:12px 16px}
header{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;justify-content:space-between}
h1{font-size:1.35rem;margin:0}
h2{font-size:1.1rem;margin:0 0 8px}
.meta{color:var(--muted);font-size:.9rem}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;font-weight:600;border:1px solid currentColor}
.green{color:var(--ok-fg);background:var(--ok-bg)}.amber{color:var(--warn-fg);background:var(--warn-bg)}.red{color:var(--bad-fg);background:var(--bad-bg)}
.overall{font-size:1.2rem;padding:6px 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(210px,1fr));gap:12px;margin:8px 0 16px}
.card,section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px}
section{margin:0 0 16px}
.big{font-size:1.8rem;font-weight:700;line-height:1.1}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:break-word}
th{font-weight:600;background:#eef1f5}
td.num,th.num{text-align:right}
.hint{color:var(--muted);font-size:.9rem}
button{font:inherit;padding:4px 12px;border-radius:6px;border:1px solid #5a6270;background:#fff;color:var(--fg);cursor:pointer;min-height:32px}
button.primary{background:#0b57d0;border-color:#0b57d0;color:#fff}
button.danger{border-color:#b91c1c;color:#991b1b}
button:focus-visible,a:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
a{color:var(--link)}
label{display:block;font-weight:600;margin:6px 0 2px}
input,select{font:inherit;padding:6px 8px;border:1px solid #5a6270;border-radius:6px;min-width:min(320px,100%)}
form.inline{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:end}
dialog{border:1px solid var(--line);border-radius:8px;max-width:min(480px,92vw)}
dialog::backdrop{background:rgba(0,0,0,.4)}
.flash{margin:0 0 12px;padding:8px 12px;border-radius:6px}
ol.steps{margin:6px 0;padding-left:22px}
.empty{color:var(--muted)}
.login{max-width:420px;margin:40px auto}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
@media (max-width:640px){body{font-size:15px}.big{font-size:1.5rem}
.cards{grid-template-columns:repeat(2,minmax(0,1fr));gap:8px}.card{padding:10px}
table.stack thead{position:absolute;left:-9999px}
table.stack tr{display:block;border-bottom:2px solid var(--line);padding:6px 0}
table.stack td{display:flex;gap:8px;border:0;padding:2px 4px;overflow-wrap:anywhere}
table.stack td::before{content:attr(data-label);font-weight:600;min-width:6.5em;flex:none;color:var(--muted)}
table.stack td.num{text-align:left}}
`;

export const PAGE_SCRIPT = `
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const flash = document.getElementById('flash');
  const say = (text, light) => { flash.textContent = text; flash.className = 'flash ' + light; flash.hidden = false; };
  const saved = sessionStorage.getItem('relaykit-flash');
  if (saved) { sessionStorage.removeItem('relaykit-flash'); const f = JSON.parse(saved); say(f.text, f.light); }
  async function call(method, url, body) {
    const res = await fetch(url, { method, credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body || {}) });
    let data = {};
    try { data = await res.json(); } catch {}
    if (!res.ok) throw new Error(data.error || ('HTTP ' + res.status));
    return data;
  }
  const dialog = document.getElementById('confirm');
  const question = document.getElementById('confirm-text');
  let pending;
  document.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b) return;
    const a = { action: b.dataset.action, id: b.dataset.id, folder: b.dataset.folder };
    if (a.action === 'retry') return run(a);
    pending = a;
    question.textContent = b.dataset.confirm;
    dialog.showModal();
  });
  document.getElementById('confirm-yes').addEventListener('click', () => { dialog.close(); if (pending) run(pending); pending = undefined; });
  document.getElementById('confirm-no').addEventListener('click', () => { dialog.close(); pending = undefined; });
  async function run(a) {
    const urls = {
      retry: ['POST', '/api/queue/' + a.id + '/retry', a.id === 'all' ? 'Retrying every queued message' : 'Retrying ' + a.id],
      requeue: ['POST', '/api/dead/' + a.id + '/requeue', 'Requeued ' + a.id],
      delete: ['DELETE', '/api/' + a.folder + '/' + a.id, 'Deleted ' + a.id],
    };
    const [method, url, done] = urls[a.action];
    // The live update (live-update.ts) holds off while an action runs: the page reloads after it.
    document.body.dataset.busy = '1';
    try {
      await call(method, url);
      sessionStorage.setItem('relaykit-flash', JSON.stringify({ text: done, light: 'green' }));
      location.reload();
    } catch (e) { delete document.body.dataset.busy; say(a.action + ' failed: ' + e.message, 'red'); }
  }
  const form = document.getElementById('test-form');
  if (form) form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const out = document.getElementById('test-result');
    const route = form.elements.route.value;
    out.textContent = 'Sending through ' + route + '…';
    try {
      const r = await call('POST', '/api/routes/' + encodeURIComponent(route) + '/test', { to: form.elements.to.value });
      out.replaceChildren();
      const head = document.createElement('p');
      head.className = 'badge ' + (r.ok ? 'green' : 'red');
      head.textContent = r.ok ? 'Test message accepted by ' + r.route : 'Test through ' + r.route + ' failed';
      const list = document.createElement('ol');
      list.className = 'steps';
      for (const s of r.steps) {
        const li = document.createElement('li');
        li.textContent = (s.ok ? '✓ ' : '✗ ') + s.step + ': ' + s.detail + (s.code ? ' (' + s.code + ')' : '') + (s.hint ? ' — fix: ' + s.hint : '');
        list.append(li);
      }
      out.append(head, list);
    } catch (e) { out.textContent = 'Test failed: ' + e.message; }
  });
  const logout = document.getElementById('logout');
  if (logout) logout.addEventListener('click', async () => { try { await call('POST', '/api/logout'); } finally { location.href = '/login'; } });
})();
`;

export const LOGIN_SCRIPT = `
(() => {
  const form = document.getElementById('login');
  const err = document.getElementById('login-error');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const res = await fetch('/api/login', { method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: form.elements.username.value, password: form.elements.password.value }) });
    if (res.ok) { location.href = '/'; return; }
    let data = {};
    try { data = await res.json(); } catch {}
    err.textContent = data.error || ('HTTP ' + res.status);
    err.hidden = false;
    form.elements.password.value = '';
    form.elements.password.focus();
  });
})();
`;
