// The models web app in a real browser (Debian's chromium, headless, driven by playwright-core), against a
// running `inferd serve`; started by webapp_test.py, which passes everything through the environment:
//   WEBAPP_BASE     http://127.0.0.1:<api port>        WEBAPP_TOKEN   the API token
//   WEBAPP_WEB_DIR  the repository's web/ (node_modules)  WEBAPP_OUT   where screenshots go
//   WEBAPP_SKLEARN, WEBAPP_SKLEARN2, WEBAPP_XGBOOST  storage URIs of the test models
//   WEBAPP_LOAD_N   services for the responsiveness measurement (0: none)
// Prints "FIGURE name value" lines (measured, not asserted) and exits non-zero on the first failed check.
import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const env = (k, d) => { const v = process.env[k] ?? d; if (v === undefined) throw new Error(`${k} is not set`); return v; };
const BASE = env('WEBAPP_BASE');
const TOKEN = env('WEBAPP_TOKEN');
const WEB = env('WEBAPP_WEB_DIR');
const OUT = env('WEBAPP_OUT');
const LOAD_N = Number(env('WEBAPP_LOAD_N', '500'));
const require = createRequire(join(WEB, 'package.json'));
const { chromium } = require('playwright-core');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
mkdirSync(OUT, { recursive: true });

const T = 90000;  // generous: a loaded 2-core machine starts replicas slowly
const problems = [];  // console errors and CSP violations seen on any page
let page;

function check(cond, msg) { if (!cond) throw new Error(`check failed: ${msg}`); }
async function shot(name) { await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: false }); }
async function step(name, fn) {
  const t0 = Date.now();
  process.stdout.write(`step: ${name} ... `);
  try { await fn(); } catch (e) {
    console.log('FAILED');
    try { await shot(`failed-${name.replace(/\W+/g, '-')}`); } catch { /* the page may be gone */ }
    throw e;
  }
  console.log(`ok (${Date.now() - t0} ms)`);
}

// axe-core on the current page: serious or critical violations fail the run.
async function axe(name) {
  await page.evaluate(AXE);
  const res = await page.evaluate(async () => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'best-practice'] }));
  const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad) console.log(`axe ${name}: ${v.impact} ${v.id}: ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  check(bad.length === 0, `axe found ${bad.length} serious/critical violations on ${name}`);
}

async function setEditor(text) {
  const ed = page.locator('.cm-content').first();
  await ed.waitFor({ timeout: T });
  await ed.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

const isvcYaml = (name, body) => `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${name}
spec:
  predictor:
${body}`;

async function api(method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const s = await (await fetch('/ui/session')).json();
    const r = await fetch(p, { method: m, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf || '' }, body: b ? JSON.stringify(b) : undefined });
    return { status: r.status, body: await r.text() };
  }, [method, path, body]);
}

async function main() {
  const browser = await chromium.launch({ executablePath: process.env.WEBAPP_CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));

  await step('first load and login', async () => {
    const t0 = Date.now();
    await page.goto(`${BASE}/`, { waitUntil: 'load' });
    const loadMs = Date.now() - t0;
    check(page.url().startsWith(`${BASE}/ui/`), `/ redirects to /ui/ (at ${page.url()})`);
    const bytes = await page.evaluate(() => {
      const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
      return all.reduce((a, e) => a + (e.transferSize || e.encodedBodySize || 0), 0);
    });
    console.log(`FIGURE first_page_load_bytes ${bytes}`);
    console.log(`FIGURE first_page_load_ms ${loadMs}`);
    const token = page.getByLabel('API token');
    await Promise.race([token.waitFor({ timeout: T }), page.getByRole('heading', { name: 'Endpoints' }).waitFor({ timeout: T })]);
    if (await token.isVisible()) {
      await token.fill('wrong-token');
      await page.getByRole('button', { name: 'SIGN IN' }).click();
      await page.getByRole('alert').waitFor({ timeout: T });
      await shot('login');
      await axe('login');
      await token.fill(TOKEN);
      await page.getByRole('button', { name: 'SIGN IN' }).click();
    }
    await page.getByRole('heading', { name: 'Endpoints' }).waitFor({ timeout: T });
  });

  const create = async (name, yaml) => {
    await page.goto(`${BASE}/ui/new?ns=default`);
    await setEditor(yaml);
    await page.getByRole('button', { name: 'CREATE' }).click();
    await page.waitForURL(`**/ui/ns/default/isvc/${name}/overview`, { timeout: T });
  };

  await step('create sklearn from YAML and see it go Ready without reloading', async () => {
    await page.goto(`${BASE}/ui/new`);
    await page.getByRole('combobox', { name: 'Start from a KServe sample' }).waitFor();
    await page.locator('.cm-content').waitFor({ timeout: T });
    await shot('new-endpoint');
    await axe('new endpoint');
    await create('sklearn-iris', isvcYaml('sklearn-iris', `    model:
      modelFormat:
        name: sklearn
      storageUri: ${env('WEBAPP_SKLEARN')}
`));
    await page.getByText('InferenceService is Ready.').first().waitFor({ timeout: T });
    await shot('overview');
    await axe('overview');
  });

  await step('create xgboost (V2) from YAML; the list shows both Ready, live', async () => {
    await create('xgboost-iris', isvcYaml('xgboost-iris', `    model:
      modelFormat:
        name: xgboost
      protocolVersion: v2
      runtime: kserve-xgbserver
      storageUri: ${env('WEBAPP_XGBOOST')}
`));
    await page.getByRole('link', { name: 'Endpoints', exact: true }).click();  // client-side navigation: no reload
    const row = page.locator('tr[data-name="xgboost-iris"] .status-ready');
    await row.waitFor({ timeout: T });
    await page.locator('tr[data-name="sklearn-iris"] .status-ready').waitFor({ timeout: T });
    const proto = await page.locator('tr[data-name="xgboost-iris"] td.col-protocol').textContent();
    check(proto === 'v2', `xgboost-iris protocol column: ${proto}`);
    await shot('list');
    await axe('list');
  });

  await step('try a prediction (V1 and V2)', async () => {
    for (const [name, want] of [['sklearn-iris', '"predictions"'], ['xgboost-iris', '"outputs"']]) {
      await page.goto(`${BASE}/ui/ns/default/isvc/${name}/try`);
      await page.getByRole('button', { name: 'SEND' }).waitFor();
      await page.waitForFunction(() => document.getElementById('try-body').value.length > 0, null, { timeout: T });
      await page.getByRole('button', { name: 'SEND' }).click();
      const answer = page.getByLabel('Response body');
      await answer.waitFor({ timeout: T });
      const text = await answer.textContent();
      check(text.includes(want), `${name} answered ${text.slice(0, 300)}`);
      if (name === 'xgboost-iris') { await shot('try-it'); await axe('try it'); }
    }
  });

  await step('validation error shown at its line', async () => {
    await page.goto(`${BASE}/ui/new`);
    await setEditor(isvcYaml('bad-replicas', `    minReplicas: 3
    maxReplicas: 1
    model:
      modelFormat:
        name: sklearn
      storageUri: ${env('WEBAPP_SKLEARN')}
`));
    await page.getByRole('button', { name: 'CREATE' }).click();
    const errs = page.getByRole('alert', { name: 'Validation errors' });
    await errs.waitFor({ timeout: T });
    const text = await errs.textContent();
    check(/line [67]\b/.test(text), `the error names line 6 or 7 (minReplicas/maxReplicas): ${text}`);
    await page.locator('.cm-lintRange-error').first().waitFor({ timeout: T });
    await shot('validation-error');
    const r = await api('GET', '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/bad-replicas');
    check(r.status === 404, `nothing was created (GET answered ${r.status})`);
  });

  await step('new revision from the YAML tab, canary slider, split, roll back, promote', async () => {
    await page.goto(`${BASE}/ui/ns/default/isvc/sklearn-iris/yaml`);
    await page.locator('.cm-content').waitFor({ timeout: T });
    await shot('yaml');
    const cur = JSON.parse((await api('GET', '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/sklearn-iris')).body);
    await setEditor(`apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: sklearn-iris
  namespace: default
  resourceVersion: "${cur.metadata.resourceVersion}"
spec:
  predictor:
    canaryTrafficPercent: 10
    model:
      modelFormat:
        name: sklearn
      storageUri: ${env('WEBAPP_SKLEARN2')}
`);
    await page.getByRole('button', { name: 'APPLY' }).click();
    await page.getByText(/Applied \(generation 2\)/).waitFor({ timeout: T });
    await page.getByRole('tab', { name: 'TRAFFIC' }).click();
    const pct = (rev) => page.locator(`tr[data-revision="sklearn-iris-predictor-${rev}"] td.pct`);
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Traffic targets"] tbody tr').length === 2, null, { timeout: T });
    await page.getByLabel('Canary traffic to the latest revision').fill('30');
    await page.getByRole('button', { name: 'APPLY' }).click();
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('table[aria-label="Traffic targets"] td.pct')].map((c) => c.textContent).sort();
      return cells.join(',') === '30%,70%';
    }, null, { timeout: T });
    check((await pct('00002').textContent()) === '30%', 'the new revision gets 30%');
    check((await pct('00001').textContent()) === '70%', 'the old revision keeps 70%');
    await shot('traffic');
    await axe('traffic');
    // Roll back (KServe: canaryTrafficPercent 0): the last rolled-out revision takes everything again.
    await page.getByRole('button', { name: 'ROLL BACK' }).click();
    await page.waitForFunction(() => {
      const pctOf = (rev) => {
        const row = document.querySelector(`tr[data-revision="sklearn-iris-predictor-${rev}"] td.pct`);
        return row ? row.textContent : null;
      };
      return pctOf('00001') === '100%' && [null, '0%'].includes(pctOf('00002'));
    }, null, { timeout: T });
    const spec = JSON.parse((await api('GET', '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/sklearn-iris')).body).spec;
    check(spec.predictor.canaryTrafficPercent === 0, `roll back wrote canaryTrafficPercent 0 (${JSON.stringify(spec.predictor)})`);
    await page.getByRole('button', { name: 'PROMOTE' }).click();
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('table[aria-label="Traffic targets"] tbody tr')];
      return cells.length === 1 && cells[0].textContent.includes('00002') && cells[0].textContent.includes('100%');
    }, null, { timeout: T });
  });

  await step('logs stream, events, metrics, details', async () => {
    await page.goto(`${BASE}/ui/ns/default/isvc/sklearn-iris/logs`);
    const logs = page.locator('pre.logs');
    await page.waitForFunction(() => { const p = document.querySelector('pre.logs'); return p && p.textContent.length > 20 && p.textContent !== '(no output yet)'; }, null, { timeout: T });
    check((await logs.textContent()).length > 20, 'logs shown');
    // One replica picked by name (the server's replica= filter).
    const replicaSel = page.getByLabel('Replica');
    // The promoted revision's replica (the old revision's is being stopped and leaves the list).
    await page.waitForFunction(() => [...document.querySelectorAll('#log-replica option')].some((o) => o.value.includes('-00002-')), null, { timeout: T });
    const names = await replicaSel.locator('option').evaluateAll((os) => os.map((o) => o.value).filter((v) => v.includes('-00002-')));
    await replicaSel.selectOption(names[0]);
    await page.waitForFunction(() => { const p = document.querySelector('pre.logs'); return p && p.textContent.length > 20 && p.textContent !== '(no output yet)'; }, null, { timeout: T });
    await page.waitForTimeout(1000);
    check((await page.getByRole('status').filter({ hasText: /streaming|stream ended/ }).textContent()) === 'streaming', 'the followed replica still streams');
    await shot('logs');
    await axe('logs');
    await page.getByRole('tab', { name: 'EVENTS' }).click();
    await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Events"] tbody tr:not(:has(.empty))').length > 0, null, { timeout: T });
    await shot('events');
    await axe('events');
    await page.getByRole('tab', { name: 'METRICS' }).click();
    await page.locator('.uplot').first().waitFor({ timeout: T });
    // Samples of the revision that served the predictions above (the server samples every 2 s).
    await page.getByText(/now: .* [1-9]\d* replicas/).waitFor({ timeout: T });
    await page.waitForTimeout(2500);  // one more sample in the pictures
    await shot('metrics');
    await axe('metrics');
    await page.getByRole('tab', { name: 'DETAILS' }).click();
    await page.getByText('Storage URI').first().waitFor();
    await shot('details');
    // Keyboard: arrow keys move between tabs.
    await page.getByRole('tab', { name: 'DETAILS' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.waitForURL('**/isvc/sklearn-iris/traffic');
  });

  await step('lists of runtimes, graphs, trained models', async () => {
    await page.getByRole('link', { name: 'Serving runtimes' }).click();
    await page.getByText('kserve-sklearnserver').first().waitFor({ timeout: T });
    await shot('runtimes');
    await axe('runtimes');
    await page.getByRole('link', { name: 'Inference graphs' }).click();
    await page.getByRole('heading', { name: 'Inference graphs' }).waitFor();
    await shot('graphs');
    await page.getByRole('link', { name: 'Trained models' }).click();
    await page.getByRole('heading', { name: 'Trained models' }).waitFor();
  });

  await step('phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${BASE}/ui/`);
    await page.locator('tr[data-name="sklearn-iris"]').waitFor({ timeout: T });
    await shot('phone-list');
    await page.goto(`${BASE}/ui/ns/default/isvc/sklearn-iris/overview`);
    await page.getByText('InferenceService is Ready.').first().waitFor({ timeout: T });
    await shot('phone-overview');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `no horizontal page scroll at phone width (${overflow} px)`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('delete with confirmation', async () => {
    await page.goto(`${BASE}/ui/`);
    await page.getByRole('button', { name: 'Delete xgboost-iris' }).click();
    const dlg = page.getByRole('dialog');
    await dlg.waitFor();
    check((await dlg.textContent()).includes('Delete Endpoint xgboost-iris?'), 'the dialog names the service');
    await shot('delete-confirm');
    await dlg.getByRole('button', { name: 'DELETE' }).click();
    await page.locator('tr[data-name="xgboost-iris"]').waitFor({ state: 'detached', timeout: T });
  });

  if (LOAD_N > 0) {
    await step(`the list with ${LOAD_N} services`, async () => {
      check((await api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'load' } })).status < 300, 'namespace load');
      await page.goto(`${BASE}/ui/?ns=load`);
      await page.getByRole('heading', { name: 'Endpoints' }).waitFor();
      const t0 = Date.now();
      // Created from inside the page, 20 at a time; a runtime that does not exist keeps each one cheap (not Ready).
      await page.evaluate(async (n) => {
        const s = await (await fetch('/ui/session')).json();
        const one = (i) => fetch('/apis/serving.kserve.io/v1beta1/namespaces/load/inferenceservices', {
          method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf || '' },
          body: JSON.stringify({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: `svc-${String(i).padStart(4, '0')}` },
            spec: { predictor: { model: { modelFormat: { name: 'sklearn' }, runtime: 'no-such-runtime', storageUri: 'file:///nonexistent' } } } }) });
        for (let i = 0; i < n; i += 20) await Promise.all([...Array(Math.min(20, n - i)).keys()].map((k) => one(i + k)));
      }, LOAD_N);
      await page.waitForFunction((n) => document.querySelectorAll('table.list tbody tr[data-name]').length === n, LOAD_N, { timeout: 180000 });
      console.log(`FIGURE list_${LOAD_N}_created_and_shown_ms ${Date.now() - t0}`);
      const sortMs = await page.evaluate(async () => {
        const b = [...document.querySelectorAll('button.sort')].find((x) => x.textContent === 'Name');
        const t = performance.now();
        b.click();
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        return performance.now() - t;
      });
      console.log(`FIGURE list_${LOAD_N}_sort_click_to_paint_ms ${sortMs.toFixed(1)}`);
      const t1 = Date.now();
      await page.goto(`${BASE}/ui/?ns=load`);
      await page.waitForFunction((n) => document.querySelectorAll('table.list tbody tr[data-name]').length === n, LOAD_N, { timeout: 60000 });
      console.log(`FIGURE list_${LOAD_N}_page_load_to_rows_ms ${Date.now() - t1}`);
      await shot('list-500');
      const del = await api('DELETE', '/apis/serving.kserve.io/v1beta1/namespaces/load/inferenceservices');
      check(del.status < 300, `deletecollection answered ${del.status}`);
    });
  }

  const csp = problems.filter((p) => /Content Security Policy|Refused to/.test(p));
  check(csp.length === 0, `CSP violations: ${csp.join(' | ')}`);
  if (problems.length) console.log(`console errors seen (not failures: expected 4xx answers are logged by the browser):\n  ${problems.join('\n  ')}`);
  await browser.close();
}

main().then(() => console.log('webapp e2e: all steps passed'), (e) => { console.error(e.stack || String(e)); process.exit(1); });
