#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>


#include "model/repository.h"

namespace inferd {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

struct Metrics::Families {
  Family<Histogram>& predict_seconds;
  Family<Counter>& success;
  Family<Counter>& failure;
  Family<Counter>& count;
  Family<Counter>& exec_count;
  Family<Gauge>& pending;
  Family<Counter>& request_duration_us;
  Family<Counter>& queue_duration_us;
  Family<Counter>& compute_duration_us;
  Family<Counter>& rejected;
};

struct Metrics::PerModel {
  Histogram* predict_seconds;
  Counter* success;
  Counter* failure_rejected;
  Counter* failure_backend;
  Counter* failure_other;
  Counter* count;
  Counter* exec_count;
  Gauge* pending;
  Counter* request_duration_us;
  Counter* queue_duration_us;
  Counter* compute_duration_us;
};

namespace {
// Latency buckets from 100 us to 10 s: a tree model answers in microseconds, a large one in seconds.
Histogram::BucketBoundaries LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}
}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  families_ = std::unique_ptr<Families>(new Families{
      prometheus::BuildHistogram()
          .Name("request_predict_seconds")
          .Help("Time from receiving an inference request to its answer (KServe's name)")
          .Register(r),
      prometheus::BuildCounter().Name("nv_inference_request_success").Help("Successful inference requests").Register(r),
      prometheus::BuildCounter()
          .Name("nv_inference_request_failure")
          .Help("Failed inference requests by reason (REJECTED: bad input, BACKEND: model error, OTHER)")
          .Register(r),
      prometheus::BuildCounter().Name("nv_inference_count").Help("Inferences performed (rows of a batch count one each)").Register(r),
      prometheus::BuildCounter().Name("nv_inference_exec_count").Help("Model executions (a batch counts once)").Register(r),
      prometheus::BuildGauge().Name("nv_inference_pending_request_count").Help("Requests waiting for or inside the model").Register(r),
      prometheus::BuildCounter().Name("nv_inference_request_duration_us").Help("Cumulative end-to-end request time in microseconds").Register(r),
      prometheus::BuildCounter().Name("nv_inference_queue_duration_us").Help("Cumulative time requests waited for the model in microseconds").Register(r),
      prometheus::BuildCounter().Name("nv_inference_compute_infer_duration_us").Help("Cumulative model execution time in microseconds").Register(r),
      prometheus::BuildCounter().Name("inferd_requests_rejected_total").Help("Requests refused before reaching a model (unknown model, not ready)").Register(r),
  });
}

Metrics::~Metrics() = default;

Metrics::PerModel* Metrics::Get(const Model& model) {
  {
    ReaderLock lock(mu_);
    auto it = models_.find(model.name());
    if (it != models_.end()) return it->second.get();
  }
  WriterLock lock(mu_);
  auto& slot = models_[model.name()];
  if (!slot) {
    auto& f = *families_;
    prometheus::Labels l = {{"model", model.name()}, {"version", model.version()}};
    slot = std::unique_ptr<PerModel>(new PerModel{
        &f.predict_seconds.Add({{"model_name", model.name()}}, LatencyBuckets()),
        &f.success.Add(l),
        &f.failure.Add({{"model", model.name()}, {"version", model.version()}, {"reason", "REJECTED"}}),
        &f.failure.Add({{"model", model.name()}, {"version", model.version()}, {"reason", "BACKEND"}}),
        &f.failure.Add({{"model", model.name()}, {"version", model.version()}, {"reason", "OTHER"}}),
        &f.count.Add(l),
        &f.exec_count.Add(l),
        &f.pending.Add(l),
        &f.request_duration_us.Add(l),
        &f.queue_duration_us.Add(l),
        &f.compute_duration_us.Add(l),
    });
  }
  return slot.get();
}

void Metrics::RecordInfer(const Model& model, const Status& status, const InferTiming& timing, int64_t total_ns,
                          int64_t batch_rows) {
  PerModel* m = Get(model);
  m->request_duration_us->Increment(static_cast<double>(total_ns) / 1e3);
  if (status.ok()) {
    m->success->Increment();
    m->count->Increment(static_cast<double>(batch_rows));
    if (timing.executions > 0) m->exec_count->Increment(static_cast<double>(timing.executions));
    m->queue_duration_us->Increment(static_cast<double>(timing.queue_ns) / 1e3);
    m->compute_duration_us->Increment(static_cast<double>(timing.compute_ns) / 1e3);
    m->predict_seconds->Observe(static_cast<double>(total_ns) / 1e9);
  } else if (status.code() == StatusCode::kInvalidArgument) {
    m->failure_rejected->Increment();
  } else if (status.code() == StatusCode::kInternal) {
    m->failure_backend->Increment();
  } else {
    m->failure_other->Increment();
  }
}

void Metrics::RecordRejected(std::string_view protocol) {
  families_->rejected.Add({{"protocol", std::string(protocol)}}).Increment();
}

std::string Metrics::Serialize(const ModelRepository* repository) const {
  if (repository) {
    for (const auto& name : repository->ReadyModelNames()) {
      auto m = repository->Peek(name);  // a scrape is not a use (the memory budget's LRU order)
      if (!m.ok()) continue;
      ReaderLock lock(mu_);
      auto it = models_.find(name);
      if (it != models_.end()) it->second->pending->Set(static_cast<double>((*m)->pending()));
    }
  }
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  if (repository) {
    prometheus::Registry memory;  // rebuilt per scrape from the repository's own counters
    AddMemoryFamilies(repository->MemoryStats(), memory);
    for (auto& f : memory.Collect()) families.push_back(std::move(f));
  }
  prometheus::TextSerializer serializer;
  return serializer.Serialize(families);
}

void Metrics::AddMemoryFamilies(const RepositoryMemoryStats& stats, prometheus::Registry& r) {
  auto& loaded = prometheus::BuildGauge()
                     .Name("inferd_models_loaded")
                     .Help("Models loaded now (not evicted by the memory budget, not failed)")
                     .Register(r);
  auto& bytes = prometheus::BuildGauge()
                    .Name("inferd_model_memory_bytes")
                    .Help("Heap bytes a model held at its last load (loaded now or evicted)")
                    .Register(r);
  auto& resident = prometheus::BuildGauge()
                       .Name("inferd_model_memory_resident_bytes")
                       .Help("Bytes of all loaded models, and the memory budget (0: unlimited)")
                       .Register(r);
  auto& loads = prometheus::BuildCounter()
                    .Name("inferd_model_loads_total")
                    .Help("Successful model loads (reloads too)")
                    .Register(r);
  auto& evictions = prometheus::BuildCounter()
                        .Name("inferd_model_evictions_total")
                        .Help("Models unloaded by the memory budget to make room for another")
                        .Register(r);
  auto& latency = prometheus::BuildHistogram()
                      .Name("inferd_model_load_seconds")
                      .Help("Time of a model load (files, backend load and warm-up)")
                      .Register(r);
  size_t loaded_count = 0, resident_bytes = 0;
  for (const ModelMemoryStats& m : stats.models) {
    const prometheus::Labels l{{"model", m.name}};
    bytes.Add(l).Set(static_cast<double>(m.bytes));
    loads.Add(l).Increment(static_cast<double>(m.loads));
    evictions.Add(l).Increment(static_cast<double>(m.evictions));
    if (m.resident) {
      ++loaded_count;
      resident_bytes += m.bytes;
    }
  }
  loaded.Add({}).Set(static_cast<double>(loaded_count));
  resident.Add({{"kind", "loaded"}}).Set(static_cast<double>(resident_bytes));
  resident.Add({{"kind", "budget"}}).Set(static_cast<double>(stats.budget));
  std::vector<double> increments(stats.load_bucket_counts.begin(), stats.load_bucket_counts.end());
  latency.Add({}, kLoadSecondsBuckets).ObserveMultiple(increments, stats.load_seconds_sum);
}

}  // namespace inferd
