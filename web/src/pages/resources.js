// Lists of ServingRuntimes (and ClusterServingRuntimes), InferenceGraphs and TrainedModels, live, as they exist.
import { html } from 'htm/preact';
import { kindPath } from '../api.js';
import { StatusIcon, ErrorBanner, useWatch, useTick } from '../components.js';
import { age } from '../status.js';

const formats = (o) => ((o.spec && o.spec.supportedModelFormats) || []).map((f) => `${f.name}${f.version ? ` ${f.version}` : ''}${f.autoSelect ? '' : ' (explicit)'}`).join(', ');
const protocols = (o) => ((o.spec && o.spec.protocolVersions) || []).join(', ');
const image = (o) => (((o.spec && o.spec.containers) || [])[0] || {}).image || (((o.spec && o.spec.containers) || [])[0] || {}).command?.join(' ') || '';

const PAGES = {
  runtimes: {
    title: 'Serving runtimes',
    sources: [['servingruntimes', 'ServingRuntime', true], ['clusterservingruntimes', 'ClusterServingRuntime', false]],
    cols: [['Formats', formats], ['Protocols', protocols], ['Container', image],
      ['Disabled', (o) => ((o.spec || {}).disabled ? 'yes' : '')]],
  },
  graphs: {
    title: 'Inference graphs',
    sources: [['inferencegraphs', 'InferenceGraph', true]],
    cols: [['Router type', (o) => (((o.spec || {}).nodes || {}).root || {}).routerType || ''],
      ['Node count', (o) => String(Object.keys((o.spec || {}).nodes || {}).length)],
      ['URL', (o) => (o.status || {}).url || '']],
  },
  trainedmodels: {
    title: 'Trained models',
    sources: [['trainedmodels', 'TrainedModel', true]],
    cols: [['InferenceService', (o) => (o.spec || {}).inferenceService || ''],
      ['Format', (o) => (((o.spec || {}).model || {}).framework) || ((((o.spec || {}).model || {}).modelFormat || {}).name) || ''],
      ['Storage URI', (o) => ((o.spec || {}).model || {}).storageUri || ''],
      ['URL', (o) => (o.status || {}).url || '']],
  },
};

export function ResourcePage({ which, ns }) {
  const page = PAGES[which];
  useTick(10000);
  return html`<div class="toolbar"><h1>${page.title}</h1></div>
    ${page.sources.map(([plural, kind, namespaced]) => html`<${Table} key=${plural} plural=${plural} kind=${kind}
      namespaced=${namespaced} ns=${ns} cols=${page.cols} multi=${page.sources.length > 1} />`)}`;
}

function Table({ plural, kind, namespaced, ns, cols, multi }) {
  const [items, error] = useWatch(kindPath('v1alpha1', plural, namespaced ? ns : ''));
  return html`${multi && html`<h2>${kind}s${namespaced ? '' : ' (cluster-wide)'}</h2>`}
    <${ErrorBanner} error=${error} />
    <div class="table-wrap"><table class="list" aria-label=${`${kind}s`}><thead><tr>
      <th scope="col">Status</th><th scope="col">Name</th>${namespaced && html`<th scope="col">Namespace</th>`}
      <th scope="col">Age</th>${cols.map(([label]) => html`<th scope="col">${label}</th>`)}</tr></thead>
      <tbody>${items && items.length === 0 && html`<tr><td class="empty" colspan=${cols.length + 4}>None.</td></tr>`}
      ${(items || []).map((o) => html`<tr><td>${o.status ? html`<${StatusIcon} obj=${o} kind=${kind} />` : ''}</td>
        <td>${o.metadata.name}</td>${namespaced && html`<td>${o.metadata.namespace}</td>`}
        <td>${age(o.metadata.creationTimestamp)}</td>${cols.map(([, f]) => html`<td class="uri">${f(o)}</td>`)}</tr>`)}
      </tbody></table></div>`;
}
