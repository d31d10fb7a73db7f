// New endpoint: KServe resources from YAML (one or more documents), validated by the server first
// (dryRun=All for every document, so nothing is created unless all are valid), errors shown at their line.
import { html } from 'htm/preact';
import { useRef, useState } from 'preact/hooks';
import { request, KSERVE } from '../api.js';
import { YamlEditor } from '../yaml_editor.js';
import { TEMPLATES, KINDS } from '../templates.js';
import { navigate, href, isvcHref } from '../router.js';

export function NewPage({ ns }) {
  const ed = useRef(null);
  const [errors, setErrors] = useState([]);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');

  const useTemplate = (id) => {
    const t = TEMPLATES.find((x) => x.id === id);
    if (t && ed.current) { ed.current.editor.setText(t.text); ed.current.editor.showErrors([]); setErrors([]); }
  };

  const show = (list) => {
    setErrors(list.map((e) => ({ ...e, line: ed.current.editor.lineOf(e.from) })));
    ed.current.editor.showErrors(list);
  };

  const create = async () => {
    const { editor, mod } = ed.current;
    setNote('');
    const docs = mod.parseDocs(editor.text());
    const problems = [];
    docs.forEach((d) => problems.push(...d.syntaxErrors));
    if (!docs.length) problems.push({ from: 0, to: 0, message: 'The editor holds no YAML document.' });
    const plan = [];
    for (const d of docs) {
      if (!d.value) continue;
      const v = d.value;
      const plural = v && typeof v === 'object' && KINDS[`${v.apiVersion} ${v.kind}`];
      if (!plural) {
        const r = mod.fieldRange(d.doc, 'kind');
        problems.push({ ...r, message: `apiVersion/kind must be one of: ${Object.keys(KINDS).join(', ')}` });
        continue;
      }
      v.metadata = v.metadata || {};
      const target = v.metadata.namespace || ns;
      const version = v.apiVersion.split('/')[1];
      plan.push({ d, v, url: `${KSERVE}/${version}/namespaces/${encodeURIComponent(target)}/${plural}` });
    }
    if (problems.length) { show(problems); return; }
    setBusy(true);
    try {
      // Validate every document on the server (nothing stored), then create them in order.
      for (const dry of [true, false]) {
        for (const p of plan) {
          try {
            await request('POST', p.url + (dry ? '?dryRun=All' : ''), p.v);
          } catch (e) {
            const causes = (e.body.details && e.body.details.causes) || [];
            const list = causes.length ? causes.map((c) => ({ ...mod.fieldRange(p.d.doc, c.field), message: `${c.field ? c.field + ': ' : ''}${c.message}` }))
              : [{ ...mod.fieldRange(p.d.doc, 'metadata.name'), message: e.message }];
            show(list);
            if (!dry) setNote(`Created before the failure: ${plan.slice(0, plan.indexOf(p)).map((x) => x.v.metadata.name).join(', ') || 'nothing'}.`);
            return;
          }
        }
      }
      show([]);
      const first = plan[0].v;
      if (plan.length === 1 && first.kind === 'InferenceService') navigate(isvcHref(first.metadata.namespace || ns, first.metadata.name));
      else navigate('/');
    } finally { setBusy(false); }
  };

  return html`<div class="toolbar"><h1>New KServe resources</h1>
      <a class="btn" href=${href('/')}>CANCEL</a></div>
    <p>One or more YAML documents (InferenceService, ServingRuntime, InferenceGraph, TrainedModel), created in
      namespace <strong>${ns}</strong> unless a document names another. The server validates all of them before
      any is created.</p>
    <div class="row wrap">
      <label for="tmpl">Start from a KServe sample</label>
      <select id="tmpl" onChange=${(e) => { useTemplate(e.target.value); e.target.value = ''; }}>
        <option value="">Choose a sample...</option>
        ${TEMPLATES.map((t) => html`<option value=${t.id}>${t.label}</option>`)}
      </select>
    </div>
    <${YamlEditor} text=${TEMPLATES[0].text} label="YAML of the new resources"
      onReady=${(editor, mod) => { ed.current = { editor, mod }; }} />
    ${errors.length > 0 && html`<ul class="errors" role="alert" aria-label="Validation errors">
      ${errors.map((e) => html`<li><button type="button" class="link" onClick=${() => { ed.current.editor.view.dispatch({ selection: { anchor: e.from }, scrollIntoView: true }); ed.current.editor.focus(); }}>
        line ${e.line}</button>: ${e.message}</li>`)}</ul>`}
    ${note && html`<div class="banner" role="status">${note}</div>`}
    <div class="row end"><button type="button" class="btn primary" disabled=${busy} onClick=${create}>CREATE</button></div>`;
}
