// Unit tests of the web app's pure parts, run by node's test runner (tests/webui/webapp_unit_test.py):
// status derivation, field path -> YAML line, "try it" request building, and the watch's resume logic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uiStatus, componentInfo, age } from '../src/status.js';
import { parseDocs, fieldRange } from '../src/yaml_doc.js';
import { buildRequest } from '../src/pages/tryit.js';
import { watch } from '../src/api.js';

test('status: Ready, the first failing condition in KServe order, terminating, no status', () => {
  assert.equal(uiStatus({ metadata: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } }).phase, 'ready');
  const s = uiStatus({ metadata: {}, status: { conditions: [
    { type: 'Ready', status: 'False', reason: 'R', message: 'ready message' },
    { type: 'PredictorConfigurationReady', status: 'False', reason: 'NoSupportingRuntime', message: 'no runtime' },
  ] } });
  assert.deepEqual(s, { phase: 'warning', text: 'NoSupportingRuntime: no runtime' });
  assert.equal(uiStatus({ metadata: { deletionTimestamp: 'x' }, status: {} }).phase, 'terminating');
  assert.equal(uiStatus({ metadata: {} }).phase, 'progress');
});

test('componentInfo: modelFormat, legacy framework keys, custom containers', () => {
  assert.deepEqual(componentInfo({ model: { modelFormat: { name: 'xgboost' }, protocolVersion: 'v2', runtime: 'kserve-xgbserver', storageUri: 's3://b/m' } }),
    { format: 'xgboost', runtime: 'kserve-xgbserver', protocol: 'v2', storageUri: 's3://b/m', runtimeVersion: '' });
  assert.equal(componentInfo({ model: { modelFormat: { name: 'sklearn' } } }).runtime, 'SKLearn ModelServer');
  assert.equal(componentInfo({ sklearn: { storageUri: 'gs://x' } }).format, 'sklearn');
  assert.equal(componentInfo({ containers: [{ image: 'x' }] }).format, 'custom');
  assert.equal(age(new Date(1000).toISOString(), 1000 + 90 * 60 * 1000), '1h');
});

test('fieldRange: a server field path points at its line; a missing field at its parent', () => {
  const text = 'apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: x\nspec:\n  predictor:\n    minReplicas: 3\n    containers:\n    - name: a\n    - name: b\n';
  const [d] = parseDocs(text);
  const line = (r) => text.slice(0, r.from).split('\n').length;
  assert.equal(line(fieldRange(d.doc, 'spec.predictor.minReplicas')), 7);
  assert.equal(line(fieldRange(d.doc, 'spec.predictor.containers[1].name')), 10);
  assert.equal(line(fieldRange(d.doc, 'spec.predictor.maxReplicas')), 6);  // absent: its parent's key
  const docs = parseDocs('a: [1\n---\nb: 2\n');
  assert.ok(docs[0].syntaxErrors.length > 0);
  assert.deepEqual(docs[1].value, { b: 2 });
});

test('buildRequest: V2 from the model metadata, V1 instances of the right width', () => {
  const v2 = buildRequest('v2', 'm', { inputs: [{ name: 'in', datatype: 'FP64', shape: [-1, 4] }] });
  assert.equal(v2.path, 'v2/models/m/infer');
  assert.deepEqual(v2.body.inputs[0].shape, [2, 4]);
  assert.equal(v2.body.inputs[0].datatype, 'FP64');
  assert.equal(v2.body.inputs[0].name, 'in');
  const v1 = buildRequest('v1', 'm', { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }] });
  assert.equal(v1.path, 'v1/models/m:predict');
  assert.deepEqual(v1.body.instances, [[0, 0, 0]]);
  assert.equal(buildRequest('v1', 'm', null).body.instances[0].length, 4);
});

// A fake fetch answering one scripted stream per call; records the URLs asked for.
function fakeFetch(script) {
  const urls = [];
  globalThis.fetch = async (url) => {
    urls.push(url);
    const lines = script.shift();
    if (!lines) return new Promise(() => {});  // the last connection stays open
    const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(lines.map((l) => JSON.stringify(l)).join('\n') + '\n')); c.close(); } });
    return { ok: true, status: 200, body };
  };
  return urls;
}
const obj = (name, rv) => ({ metadata: { namespace: 'ns', name, resourceVersion: rv } });

test('status: a message that already opens with its reason is not prefixed again', () => {
  const c = { type: 'Ready', status: 'False', reason: 'NoSupportingRuntime', message: 'NoSupportingRuntime: no runtime found' };
  assert.equal(uiStatus({ metadata: {}, status: { conditions: [c] } }).text, 'NoSupportingRuntime: no runtime found');
  const d = { type: 'Ready', status: 'False', reason: 'RevisionFailed', message: 'the model did not load' };
  assert.equal(uiStatus({ metadata: {}, status: { conditions: [d] } }).text, 'RevisionFailed: the model did not load');
});

test('watch: resumes from the last resourceVersion; an expired one (410) starts from a fresh list', async () => {
  const urls = fakeFetch([
    [{ type: 'ADDED', object: obj('a', '5') }, { type: 'ADDED', object: obj('b', '6') }],
    [{ type: 'DELETED', object: obj('a', '7') }, { type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } }],
    [{ type: 'ERROR', object: { code: 410, message: 'expired' } }],
    [{ type: 'ADDED', object: obj('c', '12') }],
  ]);
  const states = [];
  const stop = watch('/apis/x', (m) => states.push([...m.keys()].sort().join(',')));
  await new Promise((r) => setTimeout(r, 4500));  // three reconnects with 0.5 s, 1 s, 2 s back-off
  stop();
  assert.equal(urls[0], '/apis/x?watch=1&allowWatchBookmarks=true&sendInitialEvents=true');
  assert.equal(urls[1], '/apis/x?watch=1&allowWatchBookmarks=true&resourceVersion=6');
  assert.equal(urls[2], '/apis/x?watch=1&allowWatchBookmarks=true&resourceVersion=9');
  assert.equal(urls[3], '/apis/x?watch=1&allowWatchBookmarks=true&sendInitialEvents=true');  // after the 410
  assert.equal(states.at(-1), 'ns/c');  // the fresh list replaced the old state
  assert.ok(states.includes('ns/a,ns/b') && states.includes('ns/b'));
});

test('watch: an empty state is reported at the initial-events-end bookmark, not at connect time', async () => {
  fakeFetch([[{ type: 'BOOKMARK', object: { metadata: { resourceVersion: '3', annotations: { 'k8s.io/initial-events-end': 'true' } } } }]]);
  const states = [];
  const stop = watch('/apis/y', (m) => states.push(m.size));
  await new Promise((r) => setTimeout(r, 100));
  stop();
  assert.deepEqual(states, [0]);
  fakeFetch([[]]);  // connected, no marker yet: nothing said
  const none = [];
  const stop2 = watch('/apis/y', (m) => none.push(m.size));
  await new Promise((r) => setTimeout(r, 100));
  stop2();
  assert.deepEqual(none, []);
});

test('pretty: number arrays on one line', async () => {
  const { pretty } = await import('../src/pages/tryit.js');
  assert.equal(pretty({ a: [[1, 2], [3.5, -1e-7]] }), '{\n  "a": [\n    [1, 2],\n    [3.5, -1e-7]\n  ]\n}');
});
