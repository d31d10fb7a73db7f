// Revisions and traffic: the predictor's split, a canary slider (merge PATCH of canaryTrafficPercent),
// promote (drop canaryTrafficPercent: the latest revision takes everything) and roll back (0: the last
// rolled-out revision takes everything), as KServe's canary rollout works.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { mergePatch, isvcPath } from '../api.js';
import { ErrorBanner } from '../components.js';

export function TrafficTab({ obj }) {
  const md = obj.metadata;
  const spec = obj.spec.predictor || {};
  const current = spec.canaryTrafficPercent;
  const [value, setValue] = useState(current === undefined || current === null ? 100 : current);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState('');
  useEffect(() => { setValue(current === undefined || current === null ? 100 : current); }, [current]);
  const st = ((obj.status || {}).components || {}).predictor || {};
  const traffic = st.traffic || [];
  const revisions = ((obj.status || {}).inferd || {}).revisions || [];
  const patch = async (pct, what) => {
    setBusy(true); setError(null); setDone('');
    try {
      await mergePatch(isvcPath(md.namespace, md.name), { spec: { predictor: { canaryTrafficPercent: pct } } });
      setDone(what);
    } catch (e) { setError(e); } finally { setBusy(false); }
  };
  return html`<div class="card"><h2>Traffic split (predictor)</h2>
      <div class="split" role="img" aria-label=${traffic.map((t) => `${t.revisionName} ${t.percent}%`).join(', ')}>
        ${traffic.filter((t) => t.percent > 0).map((t, i) => html`<div class=${`seg seg${i % 4}`} style=${`flex: ${t.percent}`}>${t.tag || t.revisionName} ${t.percent}%</div>`)}
      </div>
      <div class="scroll"><table class="small" aria-label="Traffic targets"><thead><tr><th scope="col">Revision</th><th scope="col">Tag</th><th scope="col">Percent</th><th scope="col">Latest</th></tr></thead>
        <tbody>${traffic.map((t) => html`<tr data-revision=${t.revisionName}><td>${t.revisionName}</td><td>${t.tag || ''}</td><td class="pct">${t.percent}%</td><td>${t.latestRevision ? 'yes' : ''}</td></tr>`)}</tbody></table></div>
      <${KVRev} st=${st} /></div>
    <div class="card"><h2>Canary rollout</h2>
      <p>The share of traffic the latest revision gets while the last rolled-out one keeps the rest
        (<code>spec.predictor.canaryTrafficPercent</code>, now ${current === undefined || current === null ? 'unset: the latest revision takes all' : `${current}%`}).</p>
      <div class="row wrap">
        <label for="canary">Canary traffic to the latest revision</label>
        <input id="canary" type="range" min="0" max="100" step="1" value=${value}
          aria-valuetext=${`${value} percent`} onInput=${(e) => setValue(Number(e.target.value))} />
        <output for="canary" class="pct-out">${value}%</output>
        <button type="button" class="btn primary" disabled=${busy || value === current} onClick=${() => patch(value, `canaryTrafficPercent set to ${value}%`)}>APPLY</button>
      </div>
      <div class="row wrap">
        <button type="button" class="btn" disabled=${busy || current === undefined || current === null} onClick=${() => patch(null, 'Promoted: the latest revision takes all traffic')}>PROMOTE</button>
        <button type="button" class="btn" disabled=${busy} onClick=${() => patch(0, 'Rolled back: the last rolled-out revision takes all traffic')}>ROLL BACK</button>
      </div>
      <${ErrorBanner} error=${error} />
      ${done && html`<p role="status" class="ok">${done}.</p>`}</div>
    ${revisions.length > 0 && html`<div class="card"><h2>Revisions</h2>
      <div class="scroll"><table class="small" aria-label="Revisions"><thead><tr><th scope="col">Revision</th><th scope="col">Runtime</th><th scope="col">Traffic</th><th scope="col">Tag</th><th scope="col">Replicas (ready)</th><th scope="col">Desired</th></tr></thead>
      <tbody>${revisions.map((r) => html`<tr><td>${r.name}${r.latest ? ' (latest)' : ''}</td><td>${r.runtime}</td><td>${r.percent}%</td><td>${r.tag || ''}</td>
        <td>${r.replicas} (${r.readyReplicas})</td><td>${r.autoscaler ? r.autoscaler.desiredReplicas : ''}</td></tr>`)}</tbody></table></div></div>`}`;
}

function KVRev({ st }) {
  const rows = [['Latest created', st.latestCreatedRevision], ['Latest ready', st.latestReadyRevision],
    ['Latest rolled out', st.latestRolledoutRevision], ['Previous rolled out', st.previousRolledoutRevision]].filter((r) => r[1]);
  return html`<dl class="kv">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}
