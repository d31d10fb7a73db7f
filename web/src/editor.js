// The YAML editor chunk (loaded on demand): CodeMirror 6 with YAML highlighting and lint markers, and the
// `yaml` package's parser, whose node ranges map a field path of a server validation error to its place.
import { EditorView, basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { yaml } from '@codemirror/lang-yaml';
import { setDiagnostics, lintGutter } from '@codemirror/lint';
import { parseAllDocuments, stringify, isMap, isSeq, isScalar } from 'yaml';

export { stringify };

export function createEditor(parent, text, { label, onChange, readOnly = false } = {}) {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup, yaml(), lintGutter(), EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': label || 'YAML editor' }),
        EditorState.readOnly.of(readOnly),
        EditorView.updateListener.of((u) => { if (u.docChanged && onChange) onChange(u.state.doc.toString()); }),
      ],
    }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText: (t) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: t } }),
    // errors: [{from, to, message}] (offsets); shown as lint markers, the first one scrolled into view.
    showErrors: (errors) => {
      const len = view.state.doc.length;
      const diags = errors.map((e) => ({ from: Math.min(e.from, len), to: Math.min(Math.max(e.to, e.from), len),
        severity: 'error', message: e.message }));
      view.dispatch(setDiagnostics(view.state, diags));
      if (diags.length) view.dispatch({ selection: { anchor: diags[0].from }, scrollIntoView: true });
    },
    lineOf: (offset) => view.state.doc.lineAt(Math.min(offset, view.state.doc.length)).number,
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}

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
