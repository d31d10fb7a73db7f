// The API client of the web app: same-origin fetch with the session cookie (set by POST /ui/login), the CSRF
// token on every state-changing request (web-contract.md), and the API's own watch (?watch=1, one JSON event a
// line) read through a ReadableStream, resumed from the last resourceVersion after a drop.

let csrf = '';
let onUnauthorized = () => {};

export function setCsrf(token) { csrf = token || ''; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// An error carrying the API's Status object (kind: Status, code, reason, message, details.causes[]).
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function parse(r) {
  const text = await r.text();
  try { return text ? JSON.parse(text) : {}; } catch { return { message: text }; }
}

// One request; throws ApiError on a non-2xx answer. Writes carry X-CSRF-Token.
export async function request(method, path, body, contentType = 'application/json') {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = contentType;
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (r.status === 401) onUnauthorized();
  const out = await parse(r);
  if (!r.ok) throw new ApiError(r.status, out);
  return out;
}

export const get = (p) => request('GET', p);
export const del = (p) => request('DELETE', p);
export const put = (p, b) => request('PUT', p, b);
export const post = (p, b) => request('POST', p, b);
export const mergePatch = (p, b) => request('PATCH', p, b, 'application/merge-patch+json');

// The session (GET /ui/session): {authenticated, tokenRequired, csrf}.
export async function session() {
  const r = await fetch('/ui/session', { credentials: 'same-origin' });
  const s = await parse(r);
  if (s.csrf) setCsrf(s.csrf);
  return s;
}

export async function login(token) {
  const r = await fetch('/ui/login', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ token }),
  });
  const out = await parse(r);
  if (!r.ok) throw new ApiError(r.status, out);
  setCsrf(out.csrf);
  return out;
}

export async function logout() {
  await fetch('/ui/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } });
  setCsrf('');
}

// Splits a byte stream into lines and calls onLine for each complete one.
async function readLines(body, onLine, signal) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    if (signal.aborted) { reader.cancel().catch(() => {}); return; }
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
  }
}

const sleep = (ms, signal) => new Promise((res) => {
  const t = setTimeout(res, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); res(); }, { once: true });
});

// Watches a collection (or one object: its path) and keeps `onChange(map)` informed of the full state,
// a Map from "ns/name" to object. Reconnects with the last resourceVersion seen (events and bookmarks);
// an expired version (ERROR 410) restarts from a fresh list. Returns a function that stops the watch.
export function watch(path, onChange, onError = () => {}) {
  const ctrl = new AbortController();
  const items = new Map();
  let rv = '';
  let backoff = 500;
  const key = (o) => `${o.metadata.namespace || ''}/${o.metadata.name}`;
  const apply = (line) => {
    let ev;
    try { ev = JSON.parse(line); } catch { return; }
    const o = ev.object || {};
    if (ev.type === 'ERROR') {
      if (o.code === 410) { rv = ''; }
      onError(o);
      return;
    }
    if (o.metadata && o.metadata.resourceVersion) rv = o.metadata.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      // The end of the initial events (sendInitialEvents=true): the state is complete, even when empty.
      const ann = (o.metadata && o.metadata.annotations) || {};
      if (ann['k8s.io/initial-events-end'] === 'true') onChange(items);
      return;
    }
    if (ev.type === 'DELETED') items.delete(key(o)); else items.set(key(o), o);
    onChange(items);
  };
  (async () => {
    while (!ctrl.signal.aborted) {
      const sep = path.includes('?') ? '&' : '?';
      // A fresh start asks for Kubernetes' initial-events-end marker, so that "nothing there" is only reported
      // once the server said so (reporting at connect time showed "does not exist" for a moment).
      const from = rv ? '&resourceVersion=' + encodeURIComponent(rv) : '&sendInitialEvents=true';
      const url = `${path}${sep}watch=1&allowWatchBookmarks=true${from}`;
      try {
        if (!rv) { items.clear(); }
        const r = await fetch(url, { credentials: 'same-origin', signal: ctrl.signal, headers: { Accept: 'application/json' } });
        if (r.status === 401) { onUnauthorized(); return; }
        if (!r.ok) { onError(await parse(r)); throw new Error(`watch ${r.status}`); }
        backoff = 500;
        await readLines(r.body, apply, ctrl.signal);
      } catch (e) {
        if (ctrl.signal.aborted) return;
      }
      await sleep(backoff, ctrl.signal);
      backoff = Math.min(backoff * 2, 10000);
    }
  })();
  return () => ctrl.abort();
}

// Streams a text body (logs with follow=1) to onText; returns a stop function.
export function stream(path, onText, onEnd = () => {}) {
  const ctrl = new AbortController();
  (async () => {
    try {
      const r = await fetch(path, { credentials: 'same-origin', signal: ctrl.signal });
      if (!r.ok) { onText(`[${r.status}] ${(await parse(r)).message || ''}\n`); onEnd(); return; }
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        onText(dec.decode(value, { stream: true }));
      }
    } catch { /* aborted or dropped */ }
    onEnd();
  })();
  return () => ctrl.abort();
}

// Paths of the API.
export const KSERVE = '/apis/serving.kserve.io';
export function isvcPath(ns, name) {
  const base = ns ? `${KSERVE}/v1beta1/namespaces/${encodeURIComponent(ns)}/inferenceservices` : `${KSERVE}/v1beta1/inferenceservices`;
  return name ? `${base}/${encodeURIComponent(name)}` : base;
}
export function kindPath(version, plural, ns) {
  return ns ? `${KSERVE}/${version}/namespaces/${encodeURIComponent(ns)}/${plural}` : `${KSERVE}/${version}/${plural}`;
}
export function inferdPath(ns, name, tail) {
  return `/inferd/v1/namespaces/${encodeURIComponent(ns)}/inferenceservices/${encodeURIComponent(name)}/${tail}`;
}
