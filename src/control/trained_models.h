// control/trained_models.h: multi-model serving's control-plane side: KServe's TrainedModel (v1alpha1) loaded
// into the replicas of its multi-model InferenceService through the model server's repository API.
//
// Contract:
// - The pure decisions (any thread, no I/O): a TrainedModel's status (url as KServe's PredictPath on the
//   service's url; conditions InferenceServiceReady, IsMMSPredictor, MemoryResourceAvailable and Ready, with
//   KServe's reasons and messages, plus inferd's reasons on Ready: FrameworkNotSupported, the storage state,
//   ModelLoadFailed with the model server's message), KServe's memory allocation, and which repository calls a
//   replica needs (PlanReplicaCalls) and whether it serves every TrainedModel yet (ReplicaSynced).
// - The repository directory of a service (PlaceModel / UnplaceModel): one entry per TrainedModel, a symbolic
//   link to its fetched model directory, swapped atomically (a new link renamed over the old one), so a
//   replica reading the repository never sees a half-written model. Reconciler thread.
// - The calls (RepositoryClient): asynchronous, so that a slow load never stalls the reconciler; answers are
//   collected with TakeAnswers, and `wake` is called after each. HttpRepositoryClient runs them on its own
//   threads over libcurl (net/http_client.h) with the replicas' repository token; tests use a fake.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/isvc_status.h"
#include "core/mutex.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "resources/resources.h"
#include "supervisor/supervisor.h"

namespace inferd::control {

// KServe's default memory limit of a predictor container (the inferenceservice ConfigMap's
// resource.memoryLimit), what the TrainedModels' memory is compared with when the predictor sets none.
inline constexpr double kDefaultPredictorMemoryBytes = 2.0 * 1024 * 1024 * 1024;

// What a pass knows of a TrainedModel's InferenceService.
struct TmServiceFacts {
  bool exists = false;
  bool ready = false;        // its Ready condition is True
  bool multi_model = false;  // KServe's IsMMSPredictor (resources::ComponentSpec::multi_model)
  std::string url, address_url;  // its status.url and status.address.url ("" = none yet)
  std::string protocol = "v1";   // the predictor's protocolVersion
  std::string runtime;           // the predictor's runtime ("" = not selected yet)
  std::vector<std::string> formats;  // that runtime's supportedModelFormats names (empty: not known)
  double memory_limit_bytes = kDefaultPredictorMemoryBytes;
};

// What a pass knows of the TrainedModel itself.
struct TmFacts {
  std::string name, isvc, framework;
  bool memory_available = true;        // AllocateTrainedModelMemory's answer for it
  std::string out_of_memory;           // a replica's model server refused it for its memory budget (507): why
  std::string storage_reason, storage_message;  // its model is not fetched yet ("" = fetched)
  std::string load_failure;            // a replica's model server failed to load it: its message
  bool loaded = false;                 // loaded on every serving replica (placed, when there is none)
};

// KServe's constants.PredictPath: "/v1/models/<tm>:predict" for v1, "/v2/models/<tm>/infer" for v2, "" for
// the gRPC protocols.
std::string TrainedModelPath(const std::string& tm, const std::string& protocol);

// The framework is one the service's runtime lists (true while the runtime is not known yet).
bool FrameworkSupported(const TmServiceFacts& isvc, const std::string& framework);

// Whether the TrainedModel goes into the service's repository: the service exists and is multi-model, its
// runtime supports the framework and the memory is available (KServe adds it to the model ConfigMap only then).
bool TrainedModelPlaceable(const TmServiceFacts& isvc, const TmFacts& tm);

std::vector<ConditionStatus> TrainedModelConditions(const TmServiceFacts& isvc, const TmFacts& tm);

// The whole status: url and address.url, conditions (lastTransitionTime kept from `old_status` while a
// condition's status stays), observedGeneration.
resources::Json TrainedModelStatus(const resources::Json& tm_obj, const TmServiceFacts& isvc, const TmFacts& tm,
                                   const std::string& now);

// KServe's allocation: the TrainedModels of one service in creation order, each allocated when the memory of
// those allocated before plus its own is within the limit.
std::vector<bool> AllocateTrainedModelMemory(const std::vector<double>& memory_bytes, double limit_bytes);

// One replica's repository as the reconciler knows it.
struct ReplicaModels {
  int pid = 0;              // the process this describes (another pid: a restarted replica, known afresh)
  std::string service;      // "ns/isvc" whose predictor it is
  bool indexed = false;     // its repository index was read since it started
  bool synced_once = false; // it has served every TrainedModel once (from then on it stays routed)
  std::map<std::string, std::string> loaded;  // model -> the repository target it loaded ("" = unknown)
  std::set<std::string> busy;                 // models with a call under way
  bool index_busy = false;
};

struct ReplicaCallPlan {
  bool index = false;
  std::vector<std::string> load, unload;
};
// `desired`: model -> the target it should have loaded (the TrainedModels placed in the repository).
// First the index (what it loaded by itself at start-up), then a load per model not loaded at its target,
// an unload per model loaded that is not desired. Models with a call under way wait.
ReplicaCallPlan PlanReplicaCalls(const std::map<std::string, std::string>& desired, const ReplicaModels& replica);
// Every desired model is loaded at its target (a replica that synced once stays synced).
bool ReplicaSynced(const std::map<std::string, std::string>& desired, const ReplicaModels& replica);

// A repository index answer (KServe V2: [{name, version, state, reason}]): the names whose state is READY, or
// UNAVAILABLE with a reason starting "evicted" (the model server's memory budget unloaded it; its next request
// loads it again: as good as loaded), and those UNAVAILABLE otherwise (failed). Untrusted: anything else is
// skipped.
struct IndexStates {
  std::vector<std::string> ready, failed;
};
IndexStates ParseIndexStates(std::string_view body);

// A load's or unload's answer: a transient refusal (the model is loading already, the server's slow-work queue is
// full) is tried again; anything else that is not 200 is the model's failure.
bool TransientRepositoryAnswer(int http_status, std::string_view body);
// The "error" of a model server's {"error": ...} answer, else the body (bounded).
std::string RepositoryError(int http_status, std::string_view body);

// ---- the service's repository directory ----
// Makes `dir`/`name` a symbolic link to `target` (created, or swapped atomically by rename over the old link).
// True when it changed something (false: the link was there already, e.g. placed before inferd serve restarted).
StatusOr<bool> PlaceModel(const std::string& dir, const std::string& name, const std::string& target);
// Removes the entries of `dir` that are not in `keep` (hidden names, which are no models, stay).
void SweepRepository(const std::string& dir, const std::map<std::string, std::string>& keep);
// Removes `dir`/`name` (absent is fine).
Status UnplaceModel(const std::string& dir, const std::string& name);

// ---- calls to replicas ----
struct RepositoryCall {
  enum Kind { kIndex, kLoad, kUnload } kind = kIndex;
  supervisor::ReplicaId replica = 0;
  int pid = 0;           // the replica's process it is for (an answer from an earlier one is stale)
  std::string base_url;  // http://127.0.0.1:<port>
  std::string model;     // load/unload
  std::string target;    // load: the repository target it loads (reported back)
};
struct RepositoryAnswer {
  RepositoryCall call;
  int http_status = 0;   // 0: no answer (transport failure: `error`)
  std::string body;      // bounded
  std::string error;
};

class RepositoryClient {
 public:
  virtual ~RepositoryClient() = default;
  virtual void Submit(RepositoryCall call) = 0;
  virtual std::vector<RepositoryAnswer> TakeAnswers() = 0;
};

class HttpRepositoryClient : public RepositoryClient {
 public:
  // `token`: the replicas' repository token (INFERD_REPOSITORY_TOKEN); `wake` after every answer.
  HttpRepositoryClient(std::string token, std::function<void()> wake);
  ~HttpRepositoryClient() override;
  void Submit(RepositoryCall call) override;
  std::vector<RepositoryAnswer> TakeAnswers() override;

 private:
  std::string token_;
  std::function<void()> wake_;
  Mutex mu_;
  std::vector<RepositoryAnswer> answers_ GUARDED_BY(mu_);
  std::unique_ptr<ThreadPool> pool_;  // last: its threads stop before the fields they use
};

}  // namespace inferd::control
