// Small shared pieces: status icon, copy button, confirmation dialog, error banner, live watch hook.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { watch } from './api.js';
import { uiStatus } from './status.js';

const ICONS = { ready: '\u2714', warning: '\u26A0', progress: '\u25CC', terminating: '\u2716' };

export function StatusIcon({ obj, kind }) {
  const s = uiStatus(obj, kind);
  return html`<span class="status status-${s.phase}" role="img" aria-label=${s.text} title=${s.text}
    tabindex="0">${ICONS[s.phase]}</span>`;
}

const svg = (d) => html`<svg width="18" height="18" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path fill="currentColor" d=${d} /></svg>`;
const COPY_ICON = svg('M16 1H4a2 2 0 0 0-2 2v14h2V3h12V1zm3 4H8a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h11a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16H8V7h11v14z');
export const DELETE_ICON = svg('M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z');

export function CopyButton({ text, label }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try { await navigator.clipboard.writeText(text); } catch {
      const ta = document.createElement('textarea'); ta.value = text; document.body.appendChild(ta); ta.select();
      document.execCommand('copy'); ta.remove();
    }
    setDone(true); setTimeout(() => setDone(false), 1500);
  };
  return html`<button type="button" class="icon-btn" onClick=${copy} aria-label=${label} title=${label} disabled=${!text}>
    ${done ? '\u2713' : COPY_ICON}</button>`;
}

// A modal <dialog> (keyboard: focus trapped by the browser, Escape cancels).
export function Confirm({ open, title, body, action, onConfirm, onCancel }) {
  const ref = useRef();
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal(); else if (!open && d.open) d.close();
  }, [open]);
  return html`<dialog ref=${ref} class="dialog" aria-labelledby="dlg-title" onCancel=${(e) => { e.preventDefault(); onCancel(); }}>
    <h2 id="dlg-title">${title}</h2><p>${body}</p>
    <div class="row end">
      <button type="button" class="btn" onClick=${onCancel}>CANCEL</button>
      <button type="button" class="btn danger" onClick=${onConfirm}>${action}</button>
    </div></dialog>`;
}

export function ErrorBanner({ error }) {
  if (!error) return null;
  const msg = typeof error === 'string' ? error : (error.message || String(error));
  return html`<div class="banner error" role="alert">${msg}</div>`;
}

// Live objects of a watched path: [array sorted by namespace/name, error]. path null = nothing.
export function useWatch(path) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!path) return undefined;
    setItems(null);
    let pending = 0;
    const stop = watch(path, (map) => {
      // Coalesce bursts (the initial ADDED events) into one render per animation frame.
      if (pending) return;
      pending = requestAnimationFrame(() => {
        pending = 0;
        setItems([...map.values()].sort((a, b) => key(a).localeCompare(key(b))));
        setError(null);
      });
    }, (st) => setError(st && st.message ? st.message : 'watch failed'));
    return () => { stop(); if (pending) cancelAnimationFrame(pending); };
  }, [path]);
  return [items, error];
}

const key = (o) => `${o.metadata.namespace || ''}/${o.metadata.name}`;

// A value that is re-rendered every `ms` (ages in tables).
export function useTick(ms) {
  const [n, set] = useState(0);
  useEffect(() => { const t = setInterval(() => set((x) => x + 1), ms); return () => clearInterval(t); }, [ms]);
  return n;
}
