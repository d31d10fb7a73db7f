// backends/python/native_module.h: `_inferd_native`, the builtin module through which kserve_shim.py's
// default predict reaches its predictor natively: over the network with pipeline/predictor_client.h, or
// in the same process (the in-process transformer) through NativeModelCalls.
//
// Contract:
// - InstallNativeModule() registers the module in sys.modules (idempotent); call it with the GIL held.
// - Python functions (every one releases the GIL while it waits on the network or the native model):
//   loads(bytes | str) -> the JSON value as json.loads gives it (simdjson), or None when simdjson refuses the
//     text (the caller falls back to json.loads);
//   client(host, protocol, use_ssl, timeout_s, retries) -> an opaque client (one connection pool);
//   predict_v1(client, model, body: bytes, headers: dict|None) -> (body, json_length, [(name, value)]);
//   infer_v2(client, model, body: bytes, json_length, headers) -> the same;
//   infer_grpc(client, model, id, [(name, datatype, shape, raw bytes)], [output names]|None, headers)
//     -> (model_name, model_version, id, [(name, datatype, shape, raw bytes)]);
//   server_ready(client), model_ready(client, model) -> bool;
//   has_native(model) -> bool; native_v1(model, body, headers) -> body; native_v1_array(model, array) ->
//   body or None (array: a numpy array, or the nested lists of numbers json.loads gives); native_infer(model, [(name, array)]) -> [(name, datatype, shape, array)] (the in-process predictor, set
//   with SetNativeModelCalls).
//   Failures raise _inferd_native.PredictorError("<KServe exception name> : <detail>") (the messages of
//   pipeline/predictor_client.h); the shim re-raises them as KServe's exception types.
// - SetNativeModelCalls is called before the user's script runs and never again.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/passthrough.h"

struct _object;
typedef _object PyObject;

namespace inferd {

struct NativeModelCalls {
  std::function<bool(std::string_view model)> has;
  // The V1 body in, the V1 answer out (the native V1 codec); called without the GIL.
  std::function<StatusOr<std::string>(const std::string& model, std::string_view body, const HeaderList& headers)> v1;
  // [(name, numpy array of any layout)] in, a new list [(name, V2 datatype, shape list, array)] out; called with
  // the GIL held (it releases it around the inference). Null with a Python exception set on failure.
  std::function<PyObject*(const char* model, PyObject* inputs)> infer;
  // The rows of V1 `instances` as one numpy array (numbers or booleans), or as the nested lists of numbers
  // json.loads gives (converted natively, as np.asarray would), in, the V1 answer (JSON bytes, as
  // the native V1 codec writes it) out, or None when the model does not take them so (more than one
  // input: the caller then sends the JSON body). GIL held, as `infer`.
  std::function<PyObject*(const char* model, PyObject* array)> v1_array;
};

// `loads` for C++ callers (the GIL held): a new reference, or null when simdjson refuses the text (no exception
// pending: the caller falls back to json.loads) or when Python fails (out of memory: the exception is pending).
PyObject* JsonToPython(std::string_view text);

Status InstallNativeModule();
void SetNativeModelCalls(NativeModelCalls calls);

}  // namespace inferd
