// YAML: the object (without status and server-managed metadata) in the editor; APPLY sends PUT with the
// resourceVersion it was loaded at (a concurrent change answers 409 Conflict). Errors are shown at their line.
import { html } from 'htm/preact';
import { useRef, useState } from 'preact/hooks';
import { put, isvcPath } from '../api.js';
import { YamlEditor } from '../yaml_editor.js';
import { ErrorBanner } from '../components.js';

function editable(obj) {
  const o = JSON.parse(JSON.stringify(obj));
  delete o.status;
  const md = o.metadata || {};
  for (const k of ['managedFields', 'uid', 'generation', 'creationTimestamp', 'selfLink']) delete md[k];
  return o;
}

export function YamlTab({ obj }) {
  const ed = useRef(null);
  const [loadedRv, setLoadedRv] = useState(obj.metadata.resourceVersion);
  const [error, setError] = useState(null);
  const [errors, setErrors] = useState([]);
  const [saved, setSaved] = useState('');
  const [showStatus, setShowStatus] = useState(false);
  const stale = loadedRv !== obj.metadata.resourceVersion;
  const reload = () => {
    const { editor, mod } = ed.current;
    editor.setText(mod.stringify(editable(obj)));
    editor.showErrors([]);
    setErrors([]); setError(null);
    setLoadedRv(obj.metadata.resourceVersion);
  };
  const apply = async () => {
    const { editor, mod } = ed.current;
    setError(null); setSaved('');
    const docs = mod.parseDocs(editor.text());
    if (docs.length !== 1 || !docs[0].value) {
      const errs = docs.length ? docs.flatMap((d) => d.syntaxErrors) : [{ from: 0, to: 0, message: 'one YAML document expected' }];
      editor.showErrors(errs); setErrors(errs.map((e) => `line ${editor.lineOf(e.from)}: ${e.message}`));
      return;
    }
    try {
      const out = await put(isvcPath(obj.metadata.namespace, obj.metadata.name), docs[0].value);
      editor.showErrors([]); setErrors([]);
      setLoadedRv(out.metadata.resourceVersion);
      editor.setText(mod.stringify(editable(out)));
      setSaved(`Applied (generation ${out.metadata.generation}).`);
    } catch (e) {
      const causes = (e.body.details && e.body.details.causes) || [];
      if (causes.length) {
        const list = causes.map((c) => ({ ...mod.fieldRange(docs[0].doc, c.field), message: `${c.field ? c.field + ': ' : ''}${c.message}` }));
        editor.showErrors(list);
        setErrors(list.map((x) => `line ${editor.lineOf(x.from)}: ${x.message}`));
      }
      setError(e.status === 409 ? `${e.message} (reload to edit the current version)` : e.message);
    }
  };
  return html`<div class="row wrap">
      <button type="button" class="btn primary" onClick=${apply}>APPLY</button>
      <button type="button" class="btn" onClick=${reload}>RELOAD</button>
      <label class="check"><input type="checkbox" checked=${showStatus} onChange=${(e) => setShowStatus(e.target.checked)} /> Show status (read-only)</label>
      ${stale && html`<span class="banner" role="status">The service changed since this text was loaded (resourceVersion ${loadedRv} to ${obj.metadata.resourceVersion}).</span>`}
    </div>
    <${ErrorBanner} error=${error} />
    ${errors.length > 0 && html`<ul class="errors" role="alert" aria-label="Validation errors">${errors.map((e) => html`<li>${e}</li>`)}</ul>`}
    ${saved && html`<p role="status" class="ok">${saved}</p>`}
    <${YamlEditor} text="" label=${`YAML of ${obj.metadata.name}`}
      onReady=${(editor, mod) => { ed.current = { editor, mod }; editor.setText(mod.stringify(editable(obj))); }} />
    ${showStatus && ed.current && html`<pre class="logs" tabindex="0" aria-label="Status">${ed.current.mod.stringify({ status: obj.status })}</pre>`}`;
}
