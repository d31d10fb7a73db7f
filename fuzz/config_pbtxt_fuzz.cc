// fuzz/config_pbtxt_fuzz.cc: Triton's config.pbtxt (protobuf text format) as the TorchScript runtime reads it
// (backends/torch/io_config.h ParseTritonConfig: input/output entries, data_type, dims, max_batch_size).
// Invariants: declared tensors have a known datatype and dimensions >= -1.
#include "backends/torch/io_config.h"
#include "fuzz_check.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto io = ParseTritonConfig(inferd::fuzz::AsText(data, size), "config.pbtxt");
  if (!io.ok()) return 0;
  for (const auto* list : {&io->inputs, &io->outputs}) {
    for (const TensorSpec& s : *list) {
      FUZZ_CHECK(s.dtype != DataType::kInvalid, "tensor '" + s.name + "' without a datatype");
      for (int64_t d : s.shape) FUZZ_CHECK(d >= -1, "dimension below -1 in '" + s.name + "'");
    }
  }
  return 0;
}
