// Client-side routes under /ui/ (the server answers index.html for any /ui/<path> without an extension).
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/ui';

export function navigate(path, replace = false) {
  if (path.startsWith(BASE + '/')) path = path.slice(BASE.length);
  if (replace) history.replaceState(null, '', BASE + path); else history.pushState(null, '', BASE + path);
  window.dispatchEvent(new Event('inferd:navigate'));
}

// The current path below /ui (always starting with '/') and the query parameters.
export function useLocation() {
  const read = () => ({
    path: (location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname) || '/',
    query: new URLSearchParams(location.search),
  });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const on = () => setLoc(read());
    window.addEventListener('popstate', on);
    window.addEventListener('inferd:navigate', on);
    return () => { window.removeEventListener('popstate', on); window.removeEventListener('inferd:navigate', on); };
  }, []);
  return loc;
}

// Same-origin <a href> clicks inside the app change the route without a reload (modifier keys keep the browser's way).
export function interceptLinks(root) {
  root.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest && e.target.closest('a[href]');
    if (!a || a.target || a.origin !== location.origin || !a.pathname.startsWith(BASE)) return;
    e.preventDefault();
    history.pushState(null, '', a.pathname + a.search);
    window.dispatchEvent(new Event('inferd:navigate'));
  });
}

export const href = (path) => BASE + path;
export const isvcHref = (ns, name, tab = 'overview') => href(`/ns/${encodeURIComponent(ns)}/isvc/${encodeURIComponent(name)}/${tab}`);
