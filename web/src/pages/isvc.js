// The InferenceService page: header (status, name, DELETE) and KServe's tabs, plus TRAFFIC and TRY IT.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { del, isvcPath } from '../api.js';
import { StatusIcon, CopyButton, Confirm, ErrorBanner, useWatch, useTick } from '../components.js';
import { uiStatus, componentInfo, age, COMPONENTS } from '../status.js';
import { navigate, isvcHref, href } from '../router.js';
import { LogsTab } from './logs.js';
import { EventsTab } from './events.js';
import { YamlTab } from './yaml_tab.js';
import { MetricsTab } from './metrics.js';
import { TrafficTab } from './traffic.js';
import { TryTab } from './tryit.js';

const TABS = [['overview', 'OVERVIEW'], ['details', 'DETAILS'], ['traffic', 'TRAFFIC'], ['metrics', 'METRICS'],
  ['try', 'TRY IT'], ['logs', 'LOGS'], ['events', 'EVENTS'], ['yaml', 'YAML']];

export function IsvcPage({ ns, name, tab }) {
  const [items, error] = useWatch(isvcPath(ns, name));
  const [confirm, setConfirm] = useState(false);
  const [actionError, setActionError] = useState(null);
  const obj = items && items[0];
  if (items && !obj) {
    return html`<h1>${name}</h1><p role="status">InferenceService ${ns}/${name} does not exist (or was deleted).
      <a href=${href('/')}>Back to the endpoints</a></p>`;
  }
  const remove = async () => {
    setConfirm(false);
    try { await del(isvcPath(ns, name)); navigate('/'); } catch (e) { setActionError(e); }
  };
  const onKey = (e) => {  // arrow keys move between tabs (WAI-ARIA tabs pattern)
    const i = TABS.findIndex((t) => t[0] === tab);
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % TABS.length;
    else if (e.key === 'ArrowLeft') j = (i + TABS.length - 1) % TABS.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = TABS.length - 1;
    if (j < 0) return;
    e.preventDefault();
    navigate(isvcHref(ns, name, TABS[j][0]), true);
    requestAnimationFrame(() => { const el = document.getElementById(`tab-${TABS[j][0]}`); if (el) el.focus(); });
  };
  const st = obj ? uiStatus(obj) : null;
  return html`<div class="toolbar">
      <h1>${obj && html`<${StatusIcon} obj=${obj} /> `}${name}</h1>
      <span class="muted">${ns}</span>
      <span class="grow"></span>
      <button type="button" class="btn danger" disabled=${!obj} onClick=${() => setConfirm(true)}>DELETE</button>
    </div>
    ${st && html`<p class="status-line" aria-live="polite">${st.text}</p>`}
    <${ErrorBanner} error=${error || actionError} />
    <div role="tablist" class="tabs" aria-label="Service views" onKeyDown=${onKey}>
      ${TABS.map(([id, label]) => html`<a role="tab" id=${`tab-${id}`} href=${isvcHref(ns, name, id)}
        aria-selected=${tab === id ? 'true' : 'false'} aria-controls="tabpanel" tabindex=${tab === id ? 0 : -1}>${label}</a>`)}
    </div>
    <section id="tabpanel" role="tabpanel" aria-labelledby=${`tab-${tab}`} class="panel">
      ${!obj ? html`<p aria-busy="true">Loading...</p>` : tabBody(tab, obj, ns, name)}
    </section>
    <${Confirm} open=${confirm} title=${`Delete Endpoint ${name}?`}
      body="You cannot undo this action. The endpoint, its revisions and replicas are removed."
      action="DELETE" onConfirm=${remove} onCancel=${() => setConfirm(false)} />`;
}

function tabBody(tab, obj, ns, name) {
  switch (tab) {
    case 'details': return html`<${Details} obj=${obj} />`;
    case 'traffic': return html`<${TrafficTab} obj=${obj} />`;
    case 'metrics': return html`<${MetricsTab} ns=${ns} name=${name} />`;
    case 'try': return html`<${TryTab} obj=${obj} />`;
    case 'logs': return html`<${LogsTab} obj=${obj} />`;
    case 'events': return html`<${EventsTab} ns=${ns} name=${name} />`;
    case 'yaml': return html`<${YamlTab} obj=${obj} />`;
    default: return html`<${Overview} obj=${obj} />`;
  }
}

const KV = ({ rows }) => html`<dl class="kv">${rows.filter((r) => r[1] !== undefined && r[1] !== '' && r[1] !== null)
  .map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;

function Overview({ obj }) {
  useTick(10000);
  const s = obj.status || {};
  const pred = componentInfo(obj.spec.predictor) || {};
  const present = COMPONENTS.filter((c) => obj.spec[c]);
  const url = s.url || '';
  const internal = (s.address && s.address.url) || '';
  return html`<div class="grid2">
    <div class="card"><h2>Endpoint</h2>
      <${KV} rows=${[
        ['URL external', url && html`<span class="uri">${url}</span> <${CopyButton} text=${url} label="Copy the external URL" />`],
        ['URL internal', internal && html`<span class="uri">${internal}</span> <${CopyButton} text=${internal} label="Copy the internal URL" />`],
        ['Components', html`${present.map((c) => html`<span class="chip">${c}</span>`)}`],
        ['Storage URI', pred.storageUri], ['Predictor', pred.format], ['Runtime', pred.runtime],
        ['Runtime version', pred.runtimeVersion], ['Protocol version', pred.protocol],
        ['Created', `${age(obj.metadata.creationTimestamp)} ago`],
      ]} /></div>
    <div class="card"><h2>InferenceService conditions</h2>
      <div class="scroll"><table class="small"><thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Last transition</th><th scope="col">Reason</th><th scope="col">Message</th></tr></thead>
      <tbody>${(s.conditions || []).map((c) => html`<tr><td>${c.type}</td><td class=${`cond-${c.status}`}>${c.status}</td>
        <td>${c.lastTransitionTime ? `${age(c.lastTransitionTime)} ago` : ''}</td><td>${c.reason}</td><td>${c.message}</td></tr>`)}</tbody></table></div>
      ${s.modelStatus && html`<p>Model: <strong>${(s.modelStatus.states || {}).activeModelState || ''}</strong>
        ${s.modelStatus.lastFailureInfo && html` - ${s.modelStatus.lastFailureInfo.reason}: ${s.modelStatus.lastFailureInfo.message}`}</p>`}</div>
    </div>
    <h2>Components status</h2>
    ${present.map((c) => html`<details open class="card"><summary>${c}</summary>${componentStatus(obj, c)}</details>`)}`;
}

function componentStatus(obj, c) {
  const cs = ((obj.status || {}).components || {})[c] || {};
  const info = componentInfo(obj.spec[c]) || {};
  const replicas = (((obj.status || {}).inferd || {}).replicas || []).filter((r) => String(r.revision || '').startsWith(`${obj.metadata.name}-${c}-`));
  return html`<${KV} rows=${[
    ['Format / runtime', `${info.format} / ${info.runtime}`], ['URL', cs.url],
    ['Latest Ready Revision', cs.latestReadyRevision], ['Latest Created Revision', cs.latestCreatedRevision],
    ['Previous Rolled-out Revision', cs.previousRolledoutRevision], ['Latest Rolled-out Revision', cs.latestRolledoutRevision],
    ...(cs.traffic || []).map((t) => [`Traffic (${t.tag || t.revisionName})`, `${t.percent} %`]),
  ]} />
  ${replicas.length > 0 && html`<div class="scroll"><table class="small" aria-label=${`${c} replicas`}><thead><tr><th scope="col">Replica</th><th scope="col">Revision</th><th scope="col">Phase</th><th scope="col">PID</th><th scope="col">Restarts</th></tr></thead>
    <tbody>${replicas.map((r) => html`<tr><td>${r.name}</td><td>${r.revision}</td><td title=${r.message || ''}>${r.phase}${r.reason ? ` (${r.reason})` : ''}</td><td>${r.pid}</td><td>${r.restarts}</td></tr>`)}</tbody></table></div>`}`;
}

function Details({ obj }) {
  const md = obj.metadata;
  const map = (m) => (m && Object.keys(m).length ? html`${Object.entries(m).map(([k, v]) => html`<span class="chip mono">${k}=${v}</span>`)}` : '');
  return html`<div class="card"><h2>Metadata</h2><${KV} rows=${[
    ['Name', md.name], ['Namespace', md.namespace], ['URL external', (obj.status || {}).url],
    ['Annotations', map(md.annotations)], ['Labels', map(md.labels)], ['Created', md.creationTimestamp],
    ['Generation', String(md.generation || '')], ['Resource version', md.resourceVersion],
  ]} /></div>
  ${COMPONENTS.filter((c) => obj.spec[c]).map((c) => componentDetails(c, obj.spec[c]))}`;
}

function componentDetails(c, spec) {
  const info = componentInfo(spec) || {};
  const ctr = (spec.containers && spec.containers[0]) || spec.model || {};
  const res = ctr.resources || {};
  const str = (v) => (v === undefined || v === null ? undefined : String(v));
  return html`<div class="card"><h2>${c}</h2><${KV} rows=${[
    ['Storage URI', info.storageUri], ['Model format', info.format], ['Runtime', info.runtime],
    ['Runtime version', info.runtimeVersion], ['Protocol version', info.protocol],
    ['Min replicas', str(spec.minReplicas)], ['Max replicas', str(spec.maxReplicas)],
    ['Scale metric / target', spec.scaleMetric ? `${spec.scaleMetric} / ${spec.scaleTarget}` : undefined],
    ['Container concurrency', str(spec.containerConcurrency)], ['Timeout (s)', str(spec.timeout)],
    ['Canary traffic %', str(spec.canaryTrafficPercent)],
    ['Logger', spec.logger ? `${spec.logger.url || ''} (${spec.logger.mode || 'all'})` : undefined],
    ['Batcher', spec.batcher ? `max batch ${spec.batcher.maxBatchSize || '-'}, max latency ${spec.batcher.maxLatency || '-'} ms, timeout ${spec.batcher.timeout || '-'} s` : undefined],
    ['Container', ctr.name], ['Image', ctr.image], ['Command', ctr.command && ctr.command.join(' ')],
    ['Args', ctr.args && ctr.args.join(' ')],
    ['Env', ctr.env && ctr.env.map((e) => `${e.name}=${e.value !== undefined ? e.value : '(from a source)'}`).join(', ')],
    ['CPU request / limit', (res.requests || res.limits) && `${(res.requests || {}).cpu || '-'} / ${(res.limits || {}).cpu || '-'}`],
    ['Memory request / limit', (res.requests || res.limits) && `${(res.requests || {}).memory || '-'} / ${(res.limits || {}).memory || '-'}`],
    ['Service account', spec.serviceAccountName], ['Node selector', spec.nodeSelector && JSON.stringify(spec.nodeSelector)],
  ]} /></div>`;
}
