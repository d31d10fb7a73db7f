// model/model_config.h: per-model settings: server-wide defaults (model-server flags) overridden by an
// optional `model-settings.json` in the model's directory.
//
// Contract:
// - Pure values and parsing; no state, safe from any thread.
// - model-settings.json is a JSON object. Known keys (see docs/configuration.md):
//     max_batch_size  integer >= 0      0 = no server-side batching
//     max_latency_us  integer >= 0      how long the oldest queued request may wait for a batch to fill
//     max_queue_size  integer >= 1      requests queued per model before 503 / UNAVAILABLE
//     instances       integer 1..1024   batch executor threads (execution concurrency) per model
//   Unknown keys are ignored (the file may carry other tools' settings, e.g. MLServer's). A known key
//   with a wrong type or out-of-range value is a load error naming the file and the key.
// - To add a setting: add a field to ModelConfig and parse it in ParseModelConfig (model_config.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace inferd {

// The file looked for in a model's directory.
inline constexpr std::string_view kModelSettingsFile = "model-settings.json";

// Server-side batching of one model (model/batcher.h). Off when max_batch_size is 0.
struct BatchingConfig {
  int64_t max_batch_size = 0;     // rows per batch; 0 = off
  int64_t max_latency_us = 5000;  // 5 ms
  int64_t max_queue_size = 1024;  // queued requests (not rows)
  int64_t instances = 1;          // executor threads
  bool enabled() const { return max_batch_size > 0; }
};

struct ModelConfig {
  BatchingConfig batching;
};

// Parses the text of a model-settings.json; keys that are absent keep the value from `defaults`.
// `file` names the file in error messages.
StatusOr<ModelConfig> ParseModelConfig(std::string_view json, const ModelConfig& defaults, std::string_view file);

// Reads `<dir>/model-settings.json` when it exists (`defaults` otherwise). `*found` (optional) tells
// whether the file was there.
StatusOr<ModelConfig> LoadModelConfig(const std::string& dir, const ModelConfig& defaults, bool* found = nullptr);

}  // namespace inferd
