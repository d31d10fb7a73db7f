// The YAML editor chunk (loaded on demand): CodeMirror 6 with YAML highlighting and lint markers, and the
// `yaml` package's parser, whose node ranges map a field path of a server validation error to its place.
import { EditorView, basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { yaml } from '@codemirror/lang-yaml';
import { setDiagnostics, lintGutter } from '@codemirror/lint';
import { stringify } from 'yaml';

export { stringify };
export { parseDocs, fieldRange } from './yaml_doc.js';

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

