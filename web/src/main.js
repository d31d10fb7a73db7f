// The models web app: the shell (header, navigation, namespace filter), login, and the routes.
import { render } from 'preact';
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { session, login, logout, setUnauthorizedHandler } from './api.js';
import { useLocation, interceptLinks, href, navigate } from './router.js';
import { useWatch } from './components.js';
import { ListPage } from './pages/list.js';
import { NewPage } from './pages/new.js';
import { IsvcPage } from './pages/isvc.js';
import { ResourcePage } from './pages/resources.js';

function Login({ onDone }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    try { await login(token.trim()); onDone(); } catch (err) {
      setError(err.status === 429 ? 'Too many failed attempts; wait a minute.' : 'The token was not accepted.');
    }
  };
  return html`<main id="main" class="login">
    <form class="card" onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">inferd</h1>
      <p>Sign in with the API token (in <code>DATA_DIR/token</code>, or <code>--api_token</code>).</p>
      <label for="token">API token</label>
      <input id="token" type="password" autocomplete="current-password" value=${token}
        onInput=${(e) => setToken(e.target.value)} required />
      ${error && html`<div class="banner error" role="alert">${error}</div>`}
      <button class="btn primary" type="submit">SIGN IN</button>
    </form></main>`;
}

const NAV = [
  ['/', 'Endpoints'], ['/runtimes', 'Serving runtimes'], ['/graphs', 'Inference graphs'], ['/trainedmodels', 'Trained models'],
];

function Shell({ loc, tokenRequired, onLogout, children }) {
  const [namespaces] = useWatch('/api/v1/namespaces');
  const ns = loc.query.get('ns') || '';
  const section = loc.path === '/' || loc.path === '/new' || loc.path.startsWith('/ns/') ? '/' : loc.path;
  const setNs = (v) => {
    const q = new URLSearchParams(location.search);
    if (v) q.set('ns', v); else q.delete('ns');
    const s = q.toString();
    navigate((loc.path.startsWith('/ns/') ? '/' : loc.path) + (s ? `?${s}` : ''));
  };
  const nsq = ns ? `?ns=${encodeURIComponent(ns)}` : '';
  return html`<a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <a class="brand" href=${href('/')}>inferd <span>models</span></a>
      <nav aria-label="Sections"><ul>
        ${NAV.map(([p, label]) => html`<li><a href=${href(p + nsq)} aria-current=${section === p ? 'page' : undefined}>${label}</a></li>`)}
      </ul></nav>
      <div class="ns">
        <label for="ns-select">Namespace</label>
        <select id="ns-select" value=${ns} onChange=${(e) => setNs(e.target.value)}>
          <option value="">All namespaces</option>
          ${(namespaces || []).map((n) => html`<option value=${n.metadata.name}>${n.metadata.name}</option>`)}
        </select>
      </div>
      ${tokenRequired && html`<button class="btn small" type="button" onClick=${onLogout}>SIGN OUT</button>`}
    </header>
    <main id="main" tabindex="-1">${children}</main>`;
}

function route(loc) {
  const p = loc.path;
  const ns = loc.query.get('ns') || '';
  let m;
  if (p === '/' || p === '') return html`<${ListPage} ns=${ns} />`;
  if (p === '/new') return html`<${NewPage} ns=${ns || 'default'} />`;
  if ((m = p.match(/^\/ns\/([^/]+)\/isvc\/([^/]+)(?:\/([a-z-]+))?$/))) {
    return html`<${IsvcPage} ns=${decodeURIComponent(m[1])} name=${decodeURIComponent(m[2])} tab=${m[3] || 'overview'} />`;
  }
  if (p === '/runtimes' || p === '/graphs' || p === '/trainedmodels') return html`<${ResourcePage} which=${p.slice(1)} ns=${ns} />`;
  return html`<h1>Not found</h1><p><a href=${href('/')}>Back to the endpoints</a></p>`;
}

function App() {
  const loc = useLocation();
  const [sess, setSess] = useState(null);
  const refresh = () => session().then(setSess, () => setSess({ authenticated: false, tokenRequired: true }));
  useEffect(() => {
    refresh();
    setUnauthorizedHandler(() => setSess((s) => ({ ...(s || {}), authenticated: false })));
  }, []);
  useEffect(() => { document.title = `${titleOf(loc.path)} - inferd`; }, [loc.path]);
  // A new page (not a new tab of the same service) moves the focus to the content, as a page load would.
  const pageKey = loc.path.replace(/^(\/ns\/[^/]+\/isvc\/[^/]+)\/.*$/, '$1');
  const firstPage = useRef(true);
  useEffect(() => {
    if (firstPage.current) { firstPage.current = false; return; }
    const main = document.getElementById('main');
    if (main && !main.contains(document.activeElement)) main.focus({ preventScroll: true });
  }, [pageKey]);
  if (!sess) return html`<main id="main" class="loading" aria-busy="true">Loading...</main>`;
  if (!sess.authenticated) return html`<${Login} onDone=${refresh} />`;
  const onLogout = async () => { await logout(); refresh(); };
  return html`<${Shell} loc=${loc} tokenRequired=${sess.tokenRequired} onLogout=${onLogout}>${route(loc)}<//>`;
}

function titleOf(p) {
  if (p.startsWith('/ns/')) return decodeURIComponent(p.split('/')[4] || '');
  return { '/new': 'New endpoint', '/runtimes': 'Serving runtimes', '/graphs': 'Inference graphs',
    '/trainedmodels': 'Trained models' }[p] || 'Endpoints';
}

const root = document.getElementById('app');
interceptLinks(document.body);
render(html`<${App} />`, root);
