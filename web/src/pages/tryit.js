// TRY IT: a V1 or V2 request built from the model's metadata (GET v2/models/<m> through the contract's proxy),
// editable, sent through .../proxy/<path>; the answer is shown with its status.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { request, inferdPath } from '../api.js';
import { componentInfo } from '../status.js';

const IRIS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]];

// JSON with two-space indentation, arrays of numbers kept on one line (tensors stay readable).
export function pretty(v) {
  return JSON.stringify(v, null, 2).replace(/\[[-+\d.eE,\s]*\]/g, (m) => m.replace(/\s+/g, '').replace(/,/g, ', '));
}

// A sample row of `width` features: iris rows when the width is 4, else zeros.
function rows(width) {
  if (!width || width === 4) return IRIS;
  return [new Array(width).fill(0)];
}

export function buildRequest(protocol, model, meta) {
  const input = meta && meta.inputs && meta.inputs[0];
  const shape = input && input.shape ? input.shape : [-1, 4];
  const width = shape.length > 1 && shape[shape.length - 1] > 0 ? shape[shape.length - 1] : 4;
  const data = rows(width);
  if (protocol === 'v2') {
    return { path: `v2/models/${model}/infer`, body: { inputs: [{ name: (input && input.name) || 'input-0',
      shape: [data.length, width], datatype: (input && input.datatype) || 'FP32', data }] } };
  }
  return { path: `v1/models/${model}:predict`, body: { instances: data } };
}

export function TryTab({ obj }) {
  const md = obj.metadata;
  const info = componentInfo(obj.spec.predictor) || {};
  const protocol = String(info.protocol || 'v1').includes('v2') ? 'v2' : 'v1';
  const model = md.name;
  const [meta, setMeta] = useState(null);
  const [path, setPath] = useState('');
  const [body, setBody] = useState('');
  const [answer, setAnswer] = useState(null);
  const [busy, setBusy] = useState(false);
  const proxy = (p) => inferdPath(md.namespace, md.name, `proxy/${p}`);
  useEffect(() => {
    let gone = false;
    const done = (m) => {
      if (gone) return;
      setMeta(m);
      const r = buildRequest(protocol, model, m);
      setPath(r.path); setBody(pretty(r.body));
    };
    request('GET', proxy(`v2/models/${model}`)).then(done, () => done(null));
    return () => { gone = true; };
  }, [md.namespace, md.name, protocol]);
  const send = async (e) => {
    e.preventDefault();
    setBusy(true); setAnswer(null);
    const t0 = performance.now();
    try {
      const out = await request('POST', proxy(path), body);
      setAnswer({ ok: true, status: 200, text: pretty(out), ms: performance.now() - t0 });
    } catch (err) {
      setAnswer({ ok: false, status: err.status, text: pretty(err.body), ms: performance.now() - t0 });
    } finally { setBusy(false); }
  };
  return html`<form class="card" onSubmit=${send} aria-labelledby="try-title"><h2 id="try-title">Try it (${protocol.toUpperCase()} protocol)</h2>
      ${meta && html`<p class="muted">Model metadata: ${(meta.inputs || []).map((i) => `${i.name} ${i.datatype} [${(i.shape || []).join(', ')}]`).join('; ') || 'no inputs listed'}</p>`}
      <label for="try-path">Path</label>
      <input id="try-path" class="mono" value=${path} onInput=${(e) => setPath(e.target.value)} />
      <label for="try-body">Request body (JSON)</label>
      <textarea id="try-body" class="mono" rows="10" value=${body} onInput=${(e) => setBody(e.target.value)}></textarea>
      <div class="row end"><button type="submit" class="btn primary" disabled=${busy}>SEND</button></div>
    </form>
    ${answer && html`<div class="card"><h2>Response <span class=${answer.ok ? 'ok' : 'bad'}>${answer.status}</span>
      <span class="muted"> ${answer.ms.toFixed(0)} ms</span></h2><pre class="answer" tabindex="0" aria-label="Response body">${answer.text}</pre></div>`}`;
}
