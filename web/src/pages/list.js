// The endpoints list (KServe's models web app "/" page): live from the API's watch.
import { Component } from 'preact';
import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import { del, isvcPath } from '../api.js';
import { StatusIcon, CopyButton, Confirm, ErrorBanner, useWatch, useTick, DELETE_ICON } from '../components.js';
import { componentInfo, uiStatus, age } from '../status.js';
import { href, isvcHref } from '../router.js';

const COLUMNS = [
  ['status', 'Status', (o) => uiStatus(o).phase],
  ['name', 'Name', (o) => o.metadata.name],
  ['namespace', 'Namespace', (o) => o.metadata.namespace],
  ['created', 'Age', (o) => o.metadata.creationTimestamp || ''],
  ['predictor', 'Predictor', (o) => (componentInfo(o.spec && o.spec.predictor) || {}).format || ''],
  ['runtime', 'Runtime', (o) => (componentInfo(o.spec && o.spec.predictor) || {}).runtime || ''],
  ['protocol', 'Protocol', (o) => (componentInfo(o.spec && o.spec.predictor) || {}).protocol || ''],
  ['storage', 'Storage URI', (o) => (componentInfo(o.spec && o.spec.predictor) || {}).storageUri || ''],
  ['url', 'URL', (o) => (o.status && o.status.url) || ''],
];

export function ListPage({ ns }) {
  const [items, error] = useWatch(isvcPath(ns));
  const [sort, setSort] = useState(['name', 1]);
  const [doomed, setDoomed] = useState(null);
  const [actionError, setActionError] = useState(null);
  const tick = useTick(10000);
  const cols = ns ? COLUMNS.filter((c) => c[0] !== 'namespace') : COLUMNS;
  const rows = useMemo(() => {
    if (!items) return [];
    const col = COLUMNS.find((c) => c[0] === sort[0]);
    const keyed = items.map((o) => [String(col[2](o)), o]);  // each key computed once, not per comparison
    keyed.sort((a, b) => sort[1] * (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return keyed.map((k) => k[1]);
  }, [items, sort]);
  const remove = async () => {
    const o = doomed;
    setDoomed(null);
    try { await del(isvcPath(o.metadata.namespace, o.metadata.name)); } catch (e) { setActionError(e); }
  };
  const newHref = href('/new' + (ns ? `?ns=${encodeURIComponent(ns)}` : ''));
  return html`<div class="toolbar"><h1>Endpoints</h1>
      <a class="btn primary" href=${newHref}>+ NEW ENDPOINT</a></div>
    <${ErrorBanner} error=${error || actionError} />
    <div class="table-wrap"><table class="list" aria-label="InferenceServices" aria-busy=${items === null}>
      <thead><tr>
        ${cols.map(([id, label]) => html`<th scope="col" class=${`col-${id}`} aria-sort=${sort[0] === id ? (sort[1] > 0 ? 'ascending' : 'descending') : undefined}>
          <button type="button" class="sort" onClick=${() => setSort([id, sort[0] === id ? -sort[1] : 1])}>${label}</button></th>`)}
        <th scope="col"><span class="sr-only">Actions</span></th>
      </tr></thead>
      <tbody>
        ${items && rows.length === 0 && html`<tr><td colspan=${cols.length + 1} class="empty">No endpoints${ns ? ` in ${ns}` : ''}. Create one with NEW ENDPOINT.</td></tr>`}
        ${rows.map((o) => html`<${Row} key=${o.metadata.uid || o.metadata.name} o=${o} showNs=${!ns} tick=${tick} onDelete=${setDoomed} />`)}
      </tbody></table></div>
    <${Confirm} open=${!!doomed} title=${doomed ? `Delete Endpoint ${doomed.metadata.name}?` : ''}
      body="You cannot undo this action. The endpoint, its revisions and replicas are removed."
      action="DELETE" onConfirm=${remove} onCancel=${() => setDoomed(null)} />`;
}

// A row renders again only when its object changed (the watch keeps unchanged objects as they are) or the
// ages tick: with 500 services a sort or one service's change does not re-render the other rows.
class Row extends Component {
  shouldComponentUpdate(next) {
    const p = this.props;
    return next.o !== p.o || next.showNs !== p.showNs || next.tick !== p.tick || next.onDelete !== p.onDelete;
  }

  render(props) { return rowView(props); }
}

function rowView({ o, showNs, onDelete }) {
  const info = componentInfo(o.spec && o.spec.predictor) || {};
  const md = o.metadata;
  const url = (o.status && o.status.url) || '';
  const terminating = !!md.deletionTimestamp;
  return html`<tr data-name=${md.name}>
    <td class="col-status"><${StatusIcon} obj=${o} /></td>
    <td class="name col-name">${terminating ? md.name : html`<a href=${isvcHref(md.namespace, md.name)}>${md.name}</a>`}</td>
    ${showNs && html`<td class="col-namespace">${md.namespace}</td>`}
    <td class="col-created" title=${md.creationTimestamp}>${age(md.creationTimestamp)}</td>
    <td class="col-predictor">${info.format}</td><td class="col-runtime">${info.runtime}</td><td class="col-protocol">${info.protocol}</td>
    <td class="uri col-storage" title=${info.storageUri}>${info.storageUri}</td>
    <td class="uri col-url">${url}</td>
    <td class="actions">
      <${CopyButton} text=${url} label=${`Copy the URL of ${md.name}`} />
      <button type="button" class="icon-btn danger" aria-label=${`Delete ${md.name}`} title="Delete endpoint"
        disabled=${terminating} onClick=${() => onDelete(o)}>${DELETE_ICON}</button>
    </td></tr>`;
}
