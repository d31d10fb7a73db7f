// EVENTS: what the reconciler did for this service (the API's events, watched).
import { html } from 'htm/preact';
import { useWatch, ErrorBanner, useTick } from '../components.js';
import { age } from '../status.js';

export function EventsTab({ ns, name }) {
  const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${name}`)}`;
  const [items, error] = useWatch(path);
  useTick(10000);
  const when = (e) => e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata.creationTimestamp || '';
  const rows = (items || []).slice().sort((a, b) => when(b).localeCompare(when(a)));
  return html`<${ErrorBanner} error=${error} />
    <div class="scroll"><table class="small" aria-label="Events"><thead><tr><th scope="col">Type</th><th scope="col">Reason</th><th scope="col">Age</th><th scope="col">Count</th><th scope="col">Message</th></tr></thead>
    <tbody>${rows.length === 0 && html`<tr><td colspan="5" class="empty">${items ? 'No events.' : 'Loading...'}</td></tr>`}
      ${rows.map((e) => html`<tr class=${e.type === 'Warning' ? 'warn' : ''}><td>${e.type}</td><td>${e.reason}</td>
        <td title=${when(e)}>${age(when(e))}</td><td>${e.count || 1}</td><td>${e.message}</td></tr>`)}</tbody></table></div>`;
}
