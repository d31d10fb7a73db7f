// YAML documents and field paths (no DOM: also run by node in tests/webui/webapp_unit_test.py).
import { parseAllDocuments, isMap, isSeq, isScalar } from 'yaml';

// Parses a multi-document YAML text: [{value, doc, syntaxErrors: [{from, to, message}]}], empty docs left out.
export function parseDocs(text) {
  return parseAllDocuments(text).filter((d) => d.contents !== null || d.errors.length)
    .map((doc) => ({
      doc,
      value: doc.errors.length ? null : doc.toJS(),
      syntaxErrors: doc.errors.map((e) => ({ from: e.pos[0], to: e.pos[1], message: e.message.split('\n')[0] })),
    }));
}

// The text range of a field path ("spec.predictor.minReplicas", "spec.containers[0].name") in a parsed document:
// the key of the deepest part of the path that exists (a missing field points at its parent).
export function fieldRange(doc, field) {
  const parts = [];
  String(field || '').replace(/\[(\d+)\]|([^.[\]]+)/g, (_, idx, name) => { parts.push(idx !== undefined ? Number(idx) : name); });
  let node = doc.contents;
  let best = node && node.range ? { from: node.range[0], to: node.range[1] } : { from: 0, to: 0 };
  for (const p of parts) {
    if (isMap(node)) {
      const pair = node.items.find((it) => (isScalar(it.key) ? it.key.value : it.key) === p);
      if (!pair) break;
      if (pair.key && pair.key.range) best = { from: pair.key.range[0], to: pair.key.range[1] };
      node = pair.value;
    } else if (isSeq(node) && typeof p === 'number' && node.items[p]) {
      node = node.items[p];
      if (node.range) best = { from: node.range[0], to: node.range[0] + 1 };
    } else {
      break;
    }
  }
  return best;
}
