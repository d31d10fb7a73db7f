// backends/python/python_model_backend.h: custom Python models written against KServe's Python API,
// run unchanged in the embedded interpreter (`inferd model-server --python model.py`).
//
// Contract:
// - LoadPythonModels runs the user's program as __main__, as `python file.py` (runpy.run_path, the
//   file's directory first on sys.path) or `python -m module` (runpy.run_module, the working directory
//   first on sys.path), with sys.argv set to the program followed by `argv`, after making `import
//   kserve` work (backends/python/kserve_shim.py: inferd's stand-in when KServe is not installed;
//   otherwise the real package with ModelServer.start redirected) and installing the builtin module
//   _inferd_native (backends/python/native_module.h: the default predict's route to the predictor, and
//   `native` for the in-process transformer). Every model the program passes to
//   ModelServer().start([...]) (or register_model) becomes one Backend, returned in registration
//   order. A program that raises, or registers nothing, is a load error naming it and the Python
//   exception.
// - Covered API: see kserve_shim.py and docs/pipeline.md (KServe's Model with preprocess / validate /
//   predict / postprocess / explain, sync or async; the default predict calling the predictor;
//   InferRequest / InferResponse / InferInput / InferOutput / RequestedOutput; model_server.parser;
//   PredictorConfig / PredictorProtocol; kserve.logging; KServe's errors).
//   On V2 (the tensor Backend) the InferRequest's id and parameters, the headers, and the response headers
//   come through model/request_context.h when the front end sets it (REST: all; gRPC: id and parameters),
//   else they are empty (a batched model).
// - V1: metadata().v1_passthrough is true, and each model comes with its `v1` pass-through (a front-end
//   adapter, server/v1_passthrough.h; the Backend carries tensors only): the body is parsed into what
//   json.loads gives (natively, _inferd_native.loads; json.loads for what that refuses), run with the
//   request's headers (a dict, lower-case names) through preprocess ->
//   validate -> predict -> postprocess, and the returned object (dict, list; numpy values and an
//   InferResponse allowed) is the answer serialized with json.dumps; with return_response_headers the
//   headers the model put in response_headers come back in PassThroughAnswer::headers. A model whose
//   class defines explain() also comes with `explain` (the same for :explain).
// - V2 (REST and gRPC, through the Backend): inputs arrive as InferInputs whose data are numpy arrays;
//   predict must return an InferResponse (or a list of InferOutputs, or one numpy array, which becomes
//   output-0). Inputs and outputs are dynamic: metadata declares none and requests are not checked
//   against it.
// - Errors: InvalidInput -> InvalidArgument (400), ModelNotReady (model.ready false) -> Unavailable
//   (503), NotImplementedError -> Unimplemented (501), anything else -> Internal (500) with the
//   exception and the line of the user's code that raised it.
// - Thread safety: thread_safe() is true, and `v1` may be called from any thread; every call takes the
//   GIL, so Python work is serialized.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/backend.h"
#include "model/passthrough.h"

namespace inferd {

struct PythonModel {
  std::string name;
  std::unique_ptr<Backend> backend;
  // The model's V1 path (model/passthrough.h): the body (JSON text) and headers in, the JSON text of its
  // answer out.
  V1PassThrough v1;
  V1PassThrough explain;  // empty unless the model's class defines explain()
};

// The program: a file (`python file.py`) or a module (`python -m module`); exactly one is set.
struct PythonProgram {
  std::string script;
  std::string module;
};

// After LoadPythonModels: the readiness check of the program's predictor when its flags say
// --enable_predictor_health_check (and a --predictor_host that is not the in-process model), else null.
// The function takes the GIL and calls the predictor (PredictorClient::ServerReady).
std::function<bool()> PythonPredictorReadiness(const std::vector<std::string>& model_names);

StatusOr<std::vector<PythonModel>> LoadPythonModels(const PythonProgram& program, const std::vector<std::string>& argv);

}  // namespace inferd
