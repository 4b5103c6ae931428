// rowtrail web UI: routing, login, API calls. Plain ES module, no build step. Every value from the API is
// put into the page as text (never as HTML): row values are data, not markup.
import { h, viewFeed, viewAlerts, viewAlert, viewActors, viewHistory, viewUndo, sourcePills } from './views.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const logoutBtn = document.getElementById('logout');

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET (or other) on the API with the session cookie; 401 shows the login form. */
export async function api(path, init = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...init, headers: { accept: 'application/json', ...(init.headers || {}) } });
  if (res.status === 401) {
    showLogin();
    throw new ApiError(401, 'not logged in');
  }
  if (res.status === 204) return null;
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new ApiError(res.status, body.error || `HTTP ${res.status}`);
  return body;
}

async function login(token) {
  const res = await fetch('/api/v1/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  return res.status === 204;
}

let current = null; // the view's cleanup (closes its live feed)

function showLogin(message) {
  current?.();
  current = null;
  nav.hidden = true;
  logoutBtn.hidden = true;
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error panel', hidden: !message }, message || '');
  const form = h(
    'form',
    { class: 'panel login', id: 'login' },
    h('h1', {}, 'Log in to rowtrail'),
    h('p', { class: 'muted' }, 'Paste the token of this daemon: http.token in rowtrail.yaml, or the file http-token in the store directory (rowtrail watch says where).'),
    h('label', { for: 'token' }, 'Token'),
    input,
    err,
    h('p', {}, h('button', { class: 'primary', type: 'submit' }, 'Log in')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (await login(input.value.trim())) {
      input.value = '';
      route();
    } else {
      err.hidden = false;
      err.textContent = 'Wrong token.';
    }
  });
  main.replaceChildren(form);
  input.focus();
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/feed';
  const [path, qs] = raw.split('?');
  return { parts: path.split('/').filter(Boolean), params: new URLSearchParams(qs || '') };
}

async function refreshSources() {
  try {
    const { sources } = await api('/api/v1/sources');
    document.getElementById('sources').replaceChildren(...sourcePills(sources));
  } catch {
    /* shown on the next tick or by the view */
  }
}

async function route() {
  // A one-time link: #token=…(&go=/alerts/ID). The fragment never reaches the server; it is exchanged
  // for the session cookie and removed from the address bar and history at once.
  if (location.hash.startsWith('#token=')) {
    const p = new URLSearchParams(location.hash.slice(1));
    const go = p.get('go') || '/feed';
    history.replaceState(null, '', `#${go}`);
    if (!(await login(p.get('token') || ''))) return showLogin('The link’s token is wrong (or the daemon’s token changed).');
  }
  current?.();
  current = null;
  const { parts, params } = parseHash();
  const view = parts[0] || 'feed';
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('active', a.dataset.view === view);
  try {
    await api('/api/v1/sources').then(({ sources }) => document.getElementById('sources').replaceChildren(...sourcePills(sources)));
  } catch (e) {
    if (e.status === 401) return;
    main.replaceChildren(h('p', { class: 'panel error' }, `The daemon did not answer: ${e.message}`));
    return;
  }
  nav.hidden = false;
  logoutBtn.hidden = false;
  const ctx = { api, main, params, navigate: (hash) => (location.hash = hash) };
  try {
    if (view === 'feed') current = await viewFeed(ctx);
    else if (view === 'alerts' && parts[1]) current = await viewAlert(ctx, decodeURIComponent(parts[1]));
    else if (view === 'alerts') current = await viewAlerts(ctx);
    else if (view === 'actors') current = await viewActors(ctx);
    else if (view === 'history') current = await viewHistory(ctx);
    else if (view === 'undo') current = await viewUndo(ctx);
    else main.replaceChildren(h('p', { class: 'panel' }, 'No such page. ', h('a', { href: '#/feed' }, 'Go to the live feed')));
  } catch (e) {
    if (e.status !== 401) main.replaceChildren(h('p', { class: 'panel error' }, e.message));
  }
}

logoutBtn.addEventListener('click', async () => {
  await fetch('/api/v1/session', { method: 'DELETE', credentials: 'same-origin' });
  showLogin();
});
window.addEventListener('hashchange', route);
setInterval(() => {
  if (!nav.hidden) refreshSources();
}, 5000);
route();
