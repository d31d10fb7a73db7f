// The charts chunk (loaded with the METRICS tab): uPlot line charts, one series per revision (and per
// quantile for latency), on a shared time axis built from the metrics endpoint's samples.
import uPlot from 'uplot';

const COLORS = ['#1565c0', '#c62828', '#2e7d32', '#6a1b9a', '#ef6c00', '#00838f'];

// series: the endpoint's samples. metric: [[label suffix, field]...]. -> uPlot data and series options.
function shape(samples, fields) {
  const times = [...new Set(samples.map((s) => s.t))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const keys = [...new Set(samples.map((s) => `${s.component}/${s.revision}`))].sort();
  const data = [times.map((t) => t / 1000)];
  const series = [{}];
  let c = 0;
  for (const k of keys) {
    for (const [suffix, field] of fields) {
      const col = new Array(times.length).fill(null);
      for (const s of samples) if (`${s.component}/${s.revision}` === k) col[index.get(s.t)] = s[field];
      data.push(col);
      series.push({ label: `${k.split('/')[1]}${suffix}`, stroke: COLORS[c++ % COLORS.length], width: 2, spanGaps: false });
    }
  }
  return { data, series };
}

// Mounts (or refreshes) one chart in `el`; returns the uPlot instance to pass back on the next call.
export function drawChart(el, prev, samples, fields, yLabel) {
  const { data, series } = shape(samples, fields);
  const width = Math.max(280, el.clientWidth || 600);
  const sig = series.map((s) => s.label).join('|');
  if (prev && prev._sig === sig) {
    prev.setData(data);
    if (Math.abs(prev.width - width) > 4) prev.setSize({ width, height: 200 });
    return prev;
  }
  if (prev) prev.destroy();
  const u = new uPlot({ width, height: 200, series, axes: [{}, { label: yLabel, size: 60 }], legend: { live: false },
    scales: { y: { range: (_, min, max) => [0, Math.max(1, max || 0) * 1.1] } } }, data, el);
  u._sig = sig;
  return u;
}
