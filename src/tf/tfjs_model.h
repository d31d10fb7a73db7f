// tf/tfjs_model.h: loads a TensorFlow.js graph model (`model.json` + weight shards) into the executor's IR
// (tf/graph_def.h).
//
// Contract:
// - Input: the JSON TF.js's converter writes for `format: "graph-model"`: `modelTopology` is a GraphDef in
//   proto3 JSON (nodes, `library.function`, `versions.producer`); `weightsManifest[g]` names shard files
//   (`paths`, read in order and concatenated) and the weights they hold in storage order
//   (`{name, shape, dtype, quantization?}`). Layers models (Keras topology) and `modelInitializer` graphs
//   (hash-table initialisers) are refused with a clear error, not half-loaded.
// - Output: MetaGraph with tags {"serve"}, graph.nodes/functions as in the JSON, and every Const node's
//   `value` attr (a kTensor AttrValue) holding the decoded weight of the same name; the node's `dtype` attr and
//   the tensor's dtype agree. TF.js stores DT_DOUBLE constants as float32 and narrow or 64-bit integer constants
//   as int32: the loader converts them back to the dtype the node declares (integers range-checked), so
//   the graph is typed as TensorFlow would type it. A Const without a weight must carry its values inline
//   (TensorProto JSON `tensorContent` or `floatVal`/`intVal`/...); weights that name no Const are ignored, as
//   TF.js ignores them.
// - Dequantization is bit-exact with TF.js 4.x: uint8/uint16 `q*scale + min` computed in double and rounded
//   once to float32 (int32 weights: JavaScript's Math.round of that, range-checked); float16 is IEEE binary16
//   widened exactly (subnormals, infinities, NaN payloads).
// - signatures["serving_default"] comes from the JSON's `signature` (or `userDefinedMetadata.signature`),
//   aliases and tensor names as written. Without one, its inputs are synthesised from the Placeholder nodes
//   (alias = node name, tensor "name:0") and its outputs are left EMPTY: a TF.js graph does not say which
//   nodes are outputs, so whoever serves such a model must be told the output names. A signature that lists
//   outputs but no inputs gets the Placeholders as inputs the same way (as TF.js does).
// - Hostile input: the JSON is bounded (kMaxTfjsJsonBytes, kMaxJsonDepth nesting), weight paths must stay
//   inside the model's directory (no absolute path, no ".." component, no backslash), a weight needing more
//   bytes than its group's shards hold, a shape with a negative dimension or more than 2^31 elements, an
//   unknown dtype, or an attr of the wrong JSON type is an InvalidArgument/NotFound naming the node or
//   weight. No exception escapes; recursion is bounded by the JSON depth.
// - Threading: pure functions; any thread. The MetaGraph owns everything it holds.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "tf/graph_def.h"

namespace inferd::tf {

inline constexpr size_t kMaxTfjsJsonBytes = size_t{64} << 20;    // model.json
inline constexpr uint64_t kMaxTfjsWeightBytes = uint64_t{4} << 30;  // all shards together
// A tensor whose values are written inline in the JSON (not a weight) may have at most this many elements:
// proto's "repeat the last value" rule would otherwise let a few bytes of JSON allocate gigabytes.
inline constexpr int64_t kMaxTfjsInlineElements = int64_t{1} << 24;

// Reads `model_json_path` and the shards named in it from the same directory.
StatusOr<MetaGraph> LoadTfjsModel(const std::string& model_json_path);

// The same from memory: `read_file` is called once per entry of every group's `paths`, in order, with the path
// exactly as the manifest writes it (already checked to be relative and free of ".."), and returns the file's
// bytes (or an error, which is returned naming the file).
StatusOr<MetaGraph> ParseTfjsModel(std::string_view json,
                                   const std::function<StatusOr<std::string>(std::string_view path)>& read_file);

}  // namespace inferd::tf
