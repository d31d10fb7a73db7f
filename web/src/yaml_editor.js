// A Preact wrapper of the editor chunk (editor.js, loaded on first use so the list page stays small).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';

let chunk = null;
export const loadEditor = () => (chunk = chunk || import('./editor.js'));

// onReady(api) receives the editor (createEditor's object) and the chunk's module.
export function YamlEditor({ text, label, onReady, onChange }) {
  const ref = useRef();
  const [failed, setFailed] = useState(null);
  useEffect(() => {
    let ed = null;
    let gone = false;
    loadEditor().then((mod) => {
      if (gone) return;
      ed = mod.createEditor(ref.current, text, { label, onChange });
      if (onReady) onReady(ed, mod);
    }, (e) => setFailed(String(e)));
    return () => { gone = true; if (ed) ed.destroy(); };
  }, []);
  return html`<div class="editor" ref=${ref} aria-busy=${!failed && undefined}>${failed && html`<div role="alert">${failed}</div>`}</div>`;
}
