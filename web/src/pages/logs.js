// LOGS: the replicas' output, streamed (contract: .../logs?follow=1), per component.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { stream, inferdPath } from '../api.js';
import { COMPONENTS } from '../status.js';

const MAX_CHARS = 512 * 1024;  // the view keeps the newest half MiB

export function LogsTab({ obj }) {
  const md = obj.metadata;
  const present = COMPONENTS.filter((c) => obj.spec[c]);
  const [component, setComponent] = useState(present[0] || 'predictor');
  const [replica, setReplica] = useState('');  // '' = the newest replica of the component
  const replicas = (((obj.status || {}).inferd || {}).replicas || [])
    .filter((r) => String(r.name || '').split('/').pop().startsWith(`${md.name}-${component}-`));
  const [text, setText] = useState('');
  const [live, setLive] = useState(true);
  const [follow, setFollow] = useState(true);
  const pre = useRef();
  useEffect(() => {
    setText('');
    setLive(true);
    let buf = '';
    let pending = 0;
    let gone = false;
    const flush = () => { pending = 0; setText(buf); };
    const q = `logs?follow=1&tailBytes=65536&component=${encodeURIComponent(component)}${replica ? `&replica=${encodeURIComponent(replica)}` : ''}`;
    const stop = stream(inferdPath(md.namespace, md.name, q), (t) => {
      buf += t;
      if (buf.length > MAX_CHARS) buf = buf.slice(buf.length - MAX_CHARS);
      if (!pending) pending = setTimeout(flush, 100);
    }, () => { if (!gone) setLive(false); });  // a stream this effect stopped itself is not "ended"
    return () => { gone = true; stop(); clearTimeout(pending); };
  }, [md.namespace, md.name, component, replica]);
  useEffect(() => { if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight; }, [text, follow]);
  return html`<div class="row wrap">
      ${present.length > 1 && html`<label for="log-comp">Component</label>
        <select id="log-comp" value=${component} onChange=${(e) => { setComponent(e.target.value); setReplica(''); }}>
          ${present.map((c) => html`<option value=${c}>${c}</option>`)}</select>`}
      <label for="log-replica">Replica</label>
      <select id="log-replica" value=${replica} onChange=${(e) => setReplica(e.target.value)}>
        <option value="">newest</option>
        ${replicas.map((r) => html`<option value=${r.name}>${r.name.split('/').pop()} (${r.phase})</option>`)}
      </select>
      <label class="check"><input type="checkbox" checked=${follow} onChange=${(e) => setFollow(e.target.checked)} /> Follow</label>
      <span class="muted" role="status">${live ? 'streaming' : 'stream ended'}</span>
    </div>
    <pre class="logs" ref=${pre} tabindex="0" aria-label=${`Logs of ${md.name} ${component}`}>${text || '(no output yet)'}</pre>`;
}
