// backends/torch/io_config.h: the input/output declaration of a TorchScript model, read from a
// configuration file beside model.pt (TorchScript itself declares no names, datatypes or shapes).
//
// Contract:
// - ReadIoConfig(dir) looks, in this order, for
//     config.pbtxt         Triton's model configuration (protobuf text format). Read: `input` and `output`
//                          entries with `name`, `data_type` (TYPE_FP32 ... ; TYPE_STRING becomes BYTES) and
//                          `dims`, and `max_batch_size` (> 0 prepends a variable batch dimension -1 to every
//                          dims, as Triton does; the limit itself is not enforced). Other fields are ignored.
//     model-settings.json  MLServer's model settings (what KServe's V2 runtimes read): `inputs` and
//                          `outputs`, each a list of {"name", "datatype" (V2 name), "shape"}. The same file
//                          carries inferd's per-model settings (model/model_config.h); each reader ignores
//                          the other's keys.
//   first in `dir`, then, when `dir` is a numeric version directory (Triton's layout: <model>/config.pbtxt
//   beside <model>/<version>/model.pt), in its parent. It returns the first file that declares at least one
//   input or output (a model-settings.json holding only batching settings is skipped), std::nullopt when
//   there is none, or an InvalidArgument naming the file and the offending entry when a file is malformed.
//   A file that declares inputs but no outputs (or the reverse) returns the declared part only; the caller
//   fills in the rest.
// - The parsers are pure functions, callable from any thread. No torch headers here: this file
//   compiles quickly and is tested on its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tensor/infer_types.h"

namespace inferd {

struct IoConfig {
  std::string file;  // the file it was read from
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
};

StatusOr<std::optional<IoConfig>> ReadIoConfig(const std::string& dir);

// `file` only names the source in error messages.
StatusOr<IoConfig> ParseTritonConfig(std::string_view text, const std::string& file);
StatusOr<IoConfig> ParseModelSettings(std::string_view json, const std::string& file);

}  // namespace inferd
