// tf/example.h: tf.Example protos (TensorFlow's example.proto / feature.proto, compiled from proto/tf/example.proto)
// as plain C++ values: built by TF Serving's front ends (the REST `:classify`/`:regress` body, a gRPC Input) and
// read by the ParseExample / ParseExampleV2 kernels (tf/kernels_example.cc).
//
// Contract:
// - Pure functions, safe from any thread. Serialized bytes come from requests: a malformed proto is an
//   InvalidArgument, never a crash (protobuf's parser bounds nesting; sizes are bounded by the bytes given).
// - Context, as TF Serving applies it: each example's serialized bytes are the context's followed by the
//   example's, so a feature in both takes the example's value (protobuf merges maps, the last entry wins).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace inferd::tf {

struct ExampleFeature {
  enum class Kind { kNone, kBytes, kFloat, kInt64 };
  Kind kind = Kind::kNone;  // kNone: a feature with no list set (TensorFlow treats it as empty)
  std::vector<std::string> bytes;
  std::vector<float> floats;
  std::vector<int64_t> ints;
};
using ExampleFeatures = std::map<std::string, ExampleFeature, std::less<>>;

// tensorflow.Example's wire bytes.
std::string SerializeExample(const ExampleFeatures& features);
// InvalidArgument("could not parse example <index>...") on bad bytes.
StatusOr<ExampleFeatures> ParseExampleProto(std::string_view bytes, size_t index);

// Bounds on one request's examples (REST :classify/:regress and gRPC Classify/Regress/MultiInference alike): a
// context is copied into every example, so a small request could otherwise ask for context x examples bytes.
inline constexpr size_t kMaxExamples = size_t{1} << 20;
inline constexpr size_t kMaxExamplesBytes = size_t{64} << 20;  // serialized Examples, context applied, in all

// tensorflow.serving.Input's wire bytes (example_list, or example_list_with_context) -> one serialized Example per
// example, context applied as above. An Input with neither list, or with no examples, is an InvalidArgument
// (TF Serving's "Input is empty"); so is one past the bounds above.
StatusOr<std::vector<std::string>> SerializedExamplesFromInput(std::string_view input_bytes);

// Appends one example with the context applied ("" context: the example alone) to `out`; `total_bytes` counts
// what `out` holds. InvalidArgument naming the bound once `out` would pass kMaxExamples or kMaxExamplesBytes.
Status AppendExampleWithContext(std::string_view context, std::string_view example, std::vector<std::string>* out,
                                size_t* total_bytes);

}  // namespace inferd::tf
