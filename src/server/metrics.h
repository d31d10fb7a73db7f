// server/metrics.h: Prometheus metrics of the model server, served at GET /metrics.
//
// Contract: one Metrics per process, shared by the REST and gRPC front ends. Record* may be called
// from any thread; per-model series are created on first use and cached (a shared lock on the hot
// path, an exclusive one only for a model's first request). Names follow what users already chart:
// KServe's `request_predict_seconds` (and preprocess/postprocess/explain) histograms labelled
// model_name, and Triton's nv_inference_* counters and gauges labelled model and version. The model
// repository's memory figures (loaded models, bytes per model, loads, evictions, load latency) are read from
// the repository at each scrape (AddMemoryFamilies).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/mutex.h"
#include "core/status.h"
#include "model/model.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
class Gauge;
}  // namespace prometheus

namespace inferd {

struct RepositoryMemoryStats;  // model/repository.h

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // One finished inference request (V1 predict, V2 REST or gRPC infer). `status` decides success or
  // the failure reason (REJECTED for bad input, BACKEND for model errors, OTHER otherwise).
  // `batch_rows` is the first dimension of the first input (Triton's nv_inference_count).
  // nv_inference_exec_count grows by timing.executions (1 unbatched; one per batch when batching).
  void RecordInfer(const Model& model, const Status& status, const InferTiming& timing, int64_t total_ns,
                   int64_t batch_rows);
  // A request that could not even reach a model (unknown model, bad path...).
  void RecordRejected(std::string_view protocol);
  // Prometheus text exposition format 0.0.4.
  std::string Serialize(const class ModelRepository* repository) const;
  // The registry /metrics serializes, for parts that own their series (the payload logger, logger/).
  prometheus::Registry* registry() { return registry_.get(); }

 private:
  struct PerModel;
  PerModel* Get(const Model& model);
  // The repository's memory figures (model/repository.h MemoryStats) as families of `r`: inferd_models_loaded,
  // inferd_model_memory_bytes{model}, inferd_model_memory_resident_bytes{kind=loaded|budget},
  // inferd_model_loads_total{model}, inferd_model_evictions_total{model}, inferd_model_load_seconds.
  static void AddMemoryFamilies(const RepositoryMemoryStats& stats, prometheus::Registry& r);

  std::shared_ptr<prometheus::Registry> registry_;
  mutable SharedMutex mu_;
  std::unordered_map<std::string, std::unique_ptr<PerModel>> models_ GUARDED_BY(mu_);
  struct Families;
  std::unique_ptr<Families> families_;
};

}  // namespace inferd
