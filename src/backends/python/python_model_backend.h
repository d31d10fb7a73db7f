// backends/python/python_model_backend.h: custom Python models written against KServe's Python API,
// run unchanged in the embedded interpreter (`inferd model-server --python model.py`).
//
// Contract:
// - LoadPythonModels runs the user's script as __main__ (runpy.run_path) with sys.argv set to the
//   script path followed by `argv`, after making `import kserve` work (backends/python/kserve_shim.py:
//   inferd's stand-in when KServe is not installed; otherwise the real package with ModelServer.start
//   redirected). Every model the script passes to ModelServer().start([...]) (or register_model)
//   becomes one Backend, returned in registration order. A script that raises, or registers nothing,
//   is a load error naming the script and the Python exception.
// - Covered API: kserve.Model (name, ready, load, preprocess, predict, postprocess; each may be a
//   coroutine), ModelServer (start, register_model), model_server.parser (KServe's common flags),
//   InferRequest (id, model_name, inputs, parameters, get_input_by_name), InferInput / InferOutput
//   (name, shape, datatype, data, as_numpy, set_data_from_numpy), InferResponse (id, model_name,
//   outputs), errors.InvalidInput / InferenceError / ModelNotReady, and kserve.logging.logger.
//   Request headers are passed as an empty dict; on V2 the InferRequest's id and parameters are empty
//   (the Backend seam carries tensors only; the answer's id is the request's, set by the front end).
// - V1: metadata().v1_passthrough is true, and each model comes with its `v1` pass-through (a front-end
//   adapter, server/v1_passthrough.h; the Backend carries tensors only): the body is parsed with
//   json.loads, run through preprocess -> predict -> postprocess, and the returned object (dict, list;
//   numpy values allowed) is the answer serialized with json.dumps.
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
};

StatusOr<std::vector<PythonModel>> LoadPythonModels(const std::string& script, const std::vector<std::string>& argv);

}  // namespace inferd
