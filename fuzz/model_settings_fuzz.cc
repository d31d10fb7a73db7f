// fuzz/model_settings_fuzz.cc: a model's model-settings.json, read by two parsers: inferd's per-model
// settings (model/model_config.h: batching) and MLServer's input/output declarations that the TorchScript
// runtime reads (backends/torch/io_config.h ParseModelSettings). Invariants: accepted values are in the
// documented ranges; declared tensors have a known datatype and dimensions >= -1.
#include "backends/torch/io_config.h"
#include "fuzz_check.h"
#include "model/model_config.h"

using namespace inferd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json = inferd::fuzz::AsText(data, size);
  auto c = ParseModelConfig(json, ModelConfig{}, "model-settings.json");
  if (c.ok()) {
    const BatchingConfig& b = c->batching;
    FUZZ_CHECK(b.max_batch_size >= 0 && b.max_latency_us >= 0 && b.max_queue_size >= 1 && b.instances >= 1 &&
                   b.instances <= 1024,
               "batching setting out of range");
  }
  auto io = ParseModelSettings(json, "model-settings.json");
  if (io.ok()) {
    for (const auto* list : {&io->inputs, &io->outputs}) {
      for (const TensorSpec& s : *list) {
        FUZZ_CHECK(s.dtype != DataType::kInvalid, "tensor '" + s.name + "' without a datatype");
        for (int64_t d : s.shape) FUZZ_CHECK(d >= -1, "dimension below -1 in '" + s.name + "'");
      }
    }
  }
  return 0;
}
