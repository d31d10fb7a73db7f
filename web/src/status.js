// What the list and the service page show about an InferenceService, as KServe's models web app derives it
// (its status from the conditions): the status, the predictor's format and runtime.

const CONDITION_ORDER = ['PredictorConfigurationReady', 'TransformerConfigurationReady', 'ExplainerConfigurationReady',
  'RouteReady', 'Ready', 'IngressReady'];

// {phase: 'ready'|'warning'|'terminating'|'progress', text}
export function uiStatus(obj, kind = 'InferenceService') {
  if (obj.metadata && obj.metadata.deletionTimestamp) return { phase: 'terminating', text: 'Deleting this resource.' };
  const conds = (obj.status && obj.status.conditions) || [];
  if (!obj.status || conds.length === 0) return { phase: 'progress', text: 'Waiting for the status.' };
  const ready = conds.find((c) => c.type === 'Ready');
  if (ready && ready.status === 'True') return { phase: 'ready', text: `${kind} is Ready.` };
  const sorted = [...conds].sort((a, b) => rank(a.type) - rank(b.type));
  const first = sorted.find((c) => c.status !== 'True' && (c.message || c.reason)) || sorted.find((c) => c.message);
  // "reason: message", or the message alone when it already opens with the reason.
  const msg = first && first.message;
  const text = !first ? 'Not Ready.'
    : msg && first.reason && msg.startsWith(first.reason) ? msg : [first.reason, msg].filter(Boolean).join(': ');
  const phase = ready && ready.status === 'Unknown' ? 'progress' : 'warning';
  return { phase, text };
}

function rank(type) {
  const i = CONDITION_ORDER.indexOf(type);
  return i < 0 ? CONDITION_ORDER.length : i;
}

const FRAMEWORKS = ['sklearn', 'xgboost', 'lightgbm', 'tensorflow', 'pytorch', 'triton', 'onnx', 'pmml', 'paddle', 'huggingface'];
const RUNTIME_LABELS = {
  sklearn: 'SKLearn ModelServer', xgboost: 'XGBoost ModelServer', lightgbm: 'LightGBM ModelServer',
  tensorflow: 'TFServing', pytorch: 'TorchServe', triton: 'Triton Inference Server', onnx: 'Triton Inference Server',
  pmml: 'PMML ModelServer', paddle: 'Paddle ModelServer', huggingface: 'HuggingFace ModelServer',
};

// The component's implementation: {format, runtime, protocol, storageUri, runtimeVersion}.
export function componentInfo(spec) {
  if (!spec) return null;
  if (spec.model) {
    const m = spec.model;
    const format = (m.modelFormat && m.modelFormat.name) || 'custom';
    return {
      format, runtime: m.runtime || RUNTIME_LABELS[format] || 'Custom ModelServer',
      protocol: m.protocolVersion || 'v1', storageUri: m.storageUri || '', runtimeVersion: m.runtimeVersion || '',
    };
  }
  for (const f of FRAMEWORKS) {
    if (spec[f]) {
      return { format: f, runtime: RUNTIME_LABELS[f], protocol: spec[f].protocolVersion || 'v1',
        storageUri: spec[f].storageUri || '', runtimeVersion: spec[f].runtimeVersion || '' };
    }
  }
  const c = spec.containers && spec.containers[0];
  return { format: 'custom', runtime: 'Custom ModelServer', protocol: 'v1',
    storageUri: (c && (c.env || []).find((e) => e.name === 'STORAGE_URI') || {}).value || '', runtimeVersion: '' };
}

export function age(ts, now = Date.now()) {
  if (!ts) return '';
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export const COMPONENTS = ['predictor', 'transformer', 'explainer'];
