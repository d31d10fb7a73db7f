// tf/saved_model.h: a TensorFlow SavedModel directory (`saved_model.pb` + `variables/` + `assets/`) read into
// the executor's IR (tf/graph_def.h), without TensorFlow.
//
// Contract:
// - ParseSavedModel decodes a SavedModel protobuf (the project's own subset of TensorFlow's messages,
//   proto/tf/), picks the MetaGraphDef whose tags include every comma-separated tag of `tags` ("serve"; an
//   empty string picks the first), and converts its GraphDef (nodes, function library, producer version),
//   signatures, restore recipe and asset file names. Fields the executor never reads are skipped.
// - Tensors in attrs (TensorProto) become Tensors: `tensor_content` bytes, or the typed `*_val` field with
//   TensorFlow's rule (no values: zeros; fewer values than elements: the last value repeats; more: error).
//   DT_VARIANT and DT_RESOURCE tensors are refused. Repeated values are bounded by Limits::max_expanded_bytes
//   over the whole MetaGraph, so a tiny file cannot claim gigabytes; everything else is bounded by the file.
// - RestoreSpec (set when the MetaGraph has a saver_def or an init op): saver_def's filename tensor and restore
//   op (empty without a saver_def), and the init op as TensorFlow's loader picks it: the `__saved_model_init_op`
//   signature's output, else the `saved_model_main_op` collection, else `legacy_init_op`; init ops are node
//   names (a ":0" suffix is dropped). The `__saved_model_init_op` signature is consumed there and not listed
//   among `signatures`. Like TensorFlow, a caller skips the restore op when `<dir>/variables/variables.index`
//   does not exist (a model without variables) and runs the init op after it.
// - Asset file names come from asset_file_def and the TF1 `saved_model_assets` collection; a name that is not
//   a relative path without "." / ".." / empty components (or holds a NUL) is refused, since the caller joins
//   it under `<dir>/assets/`. As TensorFlow's loader does, the caller feeds each AssetFeed's tensor with
//   `<dir>/assets/<file>` when it runs the restore and init ops (TF2 exports read such a Placeholder,
//   `asset_path_initializer:0`, in their init op; TF1 exports a Const). MetaGraph (tf/graph_def.h) has no
//   field for these tensor names, so they come back through the optional `asset_feeds` out-parameter.
// - Errors are InvalidArgument (Unimplemented for a text-format saved_model.pbtxt) naming the file, node,
//   function, attr or signature; never a crash or an unbounded allocation or recursion on any input.
// - Plain functions: no state, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tf/graph_def.h"

namespace inferd::tf {

struct SavedModelLimits {
  uint64_t max_file_bytes = uint64_t{1} << 30;      // saved_model.pb
  uint64_t max_expanded_bytes = uint64_t{1} << 30;  // tensors filled by repeating a value, in total
};

// A tensor to feed with an asset's path before the restore and init ops run.
struct AssetFeed {
  std::string tensor;  // "asset_path_initializer:0", "Const:0"
  std::string file;    // relative to <dir>/assets/ (one of MetaGraph::asset_files)
};

// Loads `<dir>/saved_model.pb` (dir is a version directory: see FindServedVersion). When `asset_feeds` is given
// it receives the asset tensors to feed.
StatusOr<MetaGraph> LoadSavedModel(const std::string& dir, std::string_view tags = "serve",
                                   const SavedModelLimits& limits = {}, std::vector<AssetFeed>* asset_feeds = nullptr);

// The same on the bytes of a saved_model.pb (tests, fuzzing).
StatusOr<MetaGraph> ParseSavedModel(std::string_view bytes, std::string_view tags = "serve",
                                    const SavedModelLimits& limits = {},
                                    std::vector<AssetFeed>* asset_feeds = nullptr);

// The directory to serve: `dir` itself when it holds saved_model.pb, else its numeric subdirectory
// ("00000123", TensorFlow Serving's version layout) of the highest version that holds one. NotFound otherwise.
StatusOr<std::string> FindServedVersion(const std::string& dir);

// The checkpoint prefix of a SavedModel directory's variables: `<dir>/variables/variables`
// (open it with tf/tensor_bundle.h's OpenTensorBundle; feed it to RestoreSpec::filename_tensor).
std::string VariablesPrefix(const std::string& dir);

}  // namespace inferd::tf
