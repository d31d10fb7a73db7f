// METRICS: live charts from inferd's own measurements (no Grafana): the contract's
// GET .../metrics?windowS= endpoint, read every 2 s (the server samples every 2 s).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { get, inferdPath } from '../api.js';
import { ErrorBanner } from '../components.js';

const CHARTS = [
  ['rps', 'Requests per second', [['', 'rps']], 'req/s'],
  ['latency', 'Latency p50 / p99 (ms)', [[' p50', 'p50Ms'], [' p99', 'p99Ms']], 'ms'],
  ['errors', 'Errors (5xx per interval)', [['', 'errors']], 'errors'],
  ['replicas', 'Replicas per revision', [['', 'replicas']], 'replicas'],
  ['inflight', 'In-flight requests', [['', 'inFlight']], 'requests'],
];

let chunk = null;
const loadCharts = () => (chunk = chunk || import('./../charts.js'));

export function MetricsTab({ ns, name }) {
  const [win, setWin] = useState(300);
  const [error, setError] = useState(null);
  const [latest, setLatest] = useState(null);
  const els = useRef({});
  const plots = useRef({});
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const tick = async () => {
      try {
        const [mod, m] = await Promise.all([loadCharts(), get(inferdPath(ns, name, `metrics?windowS=${win}`))]);
        if (stop) return;
        const samples = m.series || [];
        for (const [id, , fields, unit] of CHARTS) {
          if (els.current[id]) plots.current[id] = mod.drawChart(els.current[id], plots.current[id], samples, fields, unit);
        }
        setLatest(summary(samples));
        setError(null);
      } catch (e) { if (!stop) setError(e); }
      if (!stop) timer = setTimeout(tick, 2000);
    };
    tick();
    return () => { stop = true; clearTimeout(timer); for (const p of Object.values(plots.current)) if (p) p.destroy(); plots.current = {}; };
  }, [ns, name, win]);
  return html`<div class="row wrap">
      <label for="mwin">Window</label>
      <select id="mwin" value=${win} onChange=${(e) => setWin(Number(e.target.value))}>
        <option value="60">1 minute</option><option value="300">5 minutes</option><option value="900">15 minutes</option><option value="3600">1 hour</option>
      </select>
      ${latest && html`<span class="muted" role="status">now: ${latest}</span>`}
    </div>
    <${ErrorBanner} error=${error} />
    <div class="charts">${CHARTS.map(([id, title]) => html`<figure class="card chart"><figcaption>${title}</figcaption>
      <div ref=${(el) => { els.current[id] = el; }} role="img" aria-label=${`${title} chart`}></div></figure>`)}</div>`;
}

function summary(samples) {
  if (!samples.length) return 'no samples yet';
  const t = Math.max(...samples.map((s) => s.t));
  const now = samples.filter((s) => s.t === t);
  const sum = (f) => now.reduce((a, s) => a + (s[f] || 0), 0);
  return `${sum('rps').toFixed(1)} req/s, ${sum('inFlight')} in flight, ${sum('replicas')} replicas`;
}
