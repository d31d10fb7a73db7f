// tf/checkpoint.h: read access to a model's saved variable values (a TensorBundle: variables.index +
// variables.data-*), as RestoreV2 and the loaders need it.
//
// Contract:
// - Read(key) returns a new Tensor holding the value stored under `key` (a checkpoint key such as "a",
//   "dense/kernel" or "variables/0/.ATTRIBUTES/VARIABLE_VALUE"), or NotFound naming the key. Values are
//   checked against the data files (offset and size within the shard, crc32c when present) on every read:
//   a truncated or hostile bundle gives an error, never a read out of bounds.
// - Implementations are immutable after opening and safe to call from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tf/tensor.h"

namespace inferd::tf {

class CheckpointReader {
 public:
  virtual ~CheckpointReader() = default;
  virtual StatusOr<Tensor> Read(std::string_view key) const = 0;
  virtual std::vector<std::string> Keys() const = 0;
};

}  // namespace inferd::tf
