// control/trained_models.cc: TrainedModels' decisions, repository directory and repository calls (see the header).
#include "control/trained_models.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "core/json_depth.h"
#include "core/logging.h"
#include "net/http_client.h"

namespace inferd::control {

using resources::Json;

namespace {

// KServe's messages (pkg/controller/v1alpha1/trainedmodel/controller.go).
std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

constexpr size_t kMaxAnswerBytes = 1024 * 1024;

}  // namespace

std::string TrainedModelPath(const std::string& tm, const std::string& protocol) {
  if (protocol == "v1") return "/v1/models/" + tm + ":predict";
  if (protocol == "v2") return "/v2/models/" + tm + "/infer";
  return "";
}

bool FrameworkSupported(const TmServiceFacts& isvc, const std::string& framework) {
  if (isvc.formats.empty()) return true;
  return std::find(isvc.formats.begin(), isvc.formats.end(), framework) != isvc.formats.end();
}

bool TrainedModelPlaceable(const TmServiceFacts& isvc, const TmFacts& tm) {
  return isvc.exists && isvc.multi_model && FrameworkSupported(isvc, tm.framework) && tm.memory_available;
}

std::vector<ConditionStatus> TrainedModelConditions(const TmServiceFacts& isvc, const TmFacts& tm) {
  std::vector<ConditionStatus> c;
  if (!isvc.exists) {
    const std::string msg = "spec.inferenceService: InferenceService " + Quoted(tm.isvc) +
                            " not found. Trained Model " + Quoted(tm.name) + " cannot deploy";
    c.push_back(MakeCondition("InferenceServiceReady", false, "InferenceServiceNotFound", msg));
    c.push_back(MakeCondition("IsMMSPredictor", false, "InferenceServiceNotFound", msg));
    c.push_back(MakeCondition("MemoryResourceAvailable", false, "InferenceServiceNotFound", msg));
    c.push_back(MakeCondition("Ready", false, "InferenceServiceNotFound", msg));
    return c;
  }
  c.push_back(MakeCondition("InferenceServiceReady", isvc.ready, "InferenceServiceNotReady",
                            "Inference Service needs to be ready before Trained Model can be ready"));
  c.push_back(MakeCondition("IsMMSPredictor", isvc.multi_model, "IsNotMMSPredictor",
                            "Inference Service predictor is not configured for multi-model serving"));
  const bool memory = tm.memory_available && tm.out_of_memory.empty();
  c.push_back(MakeCondition("MemoryResourceAvailable", memory, "MemoryResourceNotAvailable",
                            tm.out_of_memory.empty()
                                ? "Inference Service does not have enough memory resources for Trained Model"
                                : tm.out_of_memory));
  // Ready: the first thing that keeps it from serving, worded as KServe's controller words it where it has words.
  std::string reason, message;
  if (!isvc.multi_model) {
    reason = "IsNotMMSPredictor";
    message = "spec.inferenceService: Inference Service " + Quoted(tm.isvc) +
              " predictor is not configured for multi-model serving (it has a storageUri). Trained Model " +
              Quoted(tm.name) + " cannot deploy";
  } else if (!FrameworkSupported(isvc, tm.framework)) {
    reason = "FrameworkNotSupported";
    message = "spec.model.framework: Inference Service " + Quoted(tm.isvc) + " does not support the Trained Model " +
              Quoted(tm.name) + " framework " + Quoted(tm.framework) + " (its runtime " + isvc.runtime +
              " serves these formats only)";
  } else if (!memory) {
    reason = "MemoryResourceNotAvailable";
    message = tm.out_of_memory.empty() ? "Inference Service " + Quoted(tm.isvc) +
                                             " memory resources are not available. Trained Model " +
                                             Quoted(tm.name) + " cannot deploy"
                                       : tm.out_of_memory;
  } else if (!tm.storage_reason.empty()) {
    reason = tm.storage_reason;
    message = tm.storage_message;
  } else if (!tm.load_failure.empty()) {
    reason = "ModelLoadFailed";
    message = tm.load_failure;
  } else if (!isvc.ready) {
    reason = "InferenceServiceNotReady";
    message = "Inference Service " + Quoted(tm.isvc) + " is not ready. Trained Model " + Quoted(tm.name) +
              " cannot deploy";
  } else if (!tm.loaded) {
    reason = "ModelLoading";
    message = "the model is being loaded into the replicas of " + Quoted(tm.isvc);
  }
  c.push_back(MakeCondition("Ready", reason.empty(), reason, message));
  return c;
}

Json TrainedModelStatus(const Json& tm_obj, const TmServiceFacts& isvc, const TmFacts& tm, const std::string& now) {
  const Json old = tm_obj.contains("status") && tm_obj["status"].is_object() ? tm_obj["status"] : Json::object();
  Json status = Json::object();
  const std::string path = TrainedModelPath(tm.name, isvc.protocol);
  if (isvc.exists && !isvc.url.empty()) status["url"] = isvc.url + path;
  if (isvc.exists && !isvc.address_url.empty()) status["address"] = {{"url", isvc.address_url + path}};
  status[kStatusConditions] = ConditionsToJson(TrainedModelConditions(isvc, tm), old, now);
  if (tm_obj.contains("metadata") && tm_obj["metadata"].is_object() && tm_obj["metadata"].contains("generation")) {
    status["observedGeneration"] = tm_obj["metadata"]["generation"];
  }
  return status;
}

std::vector<bool> AllocateTrainedModelMemory(const std::vector<double>& memory_bytes, double limit_bytes) {
  std::vector<bool> out;
  double allocated = 0;
  for (double m : memory_bytes) {
    const bool fits = allocated + m <= limit_bytes;
    if (fits) allocated += m;
    out.push_back(fits);
  }
  return out;
}

ReplicaCallPlan PlanReplicaCalls(const std::map<std::string, std::string>& desired, const ReplicaModels& replica) {
  ReplicaCallPlan plan;
  if (!replica.indexed) {
    plan.index = !replica.index_busy;
    return plan;
  }
  for (const auto& [name, target] : desired) {
    if (replica.busy.count(name)) continue;
    auto it = replica.loaded.find(name);
    if (it == replica.loaded.end() || it->second != target) plan.load.push_back(name);
  }
  for (const auto& [name, target] : replica.loaded) {
    if (!desired.count(name) && !replica.busy.count(name)) plan.unload.push_back(name);
  }
  return plan;
}

bool ReplicaSynced(const std::map<std::string, std::string>& desired, const ReplicaModels& replica) {
  if (replica.synced_once) return true;
  if (!replica.indexed) return false;
  for (const auto& [name, target] : desired) {
    auto it = replica.loaded.find(name);
    if (it == replica.loaded.end() || it->second != target) return false;
  }
  return true;
}

IndexStates ParseIndexStates(std::string_view body) {
  IndexStates out;
  auto parsed = ParseBoundedJson(body, "repository index");
  if (!parsed.ok() || !parsed->is_array()) return out;
  for (const auto& m : *parsed) {
    if (!m.is_object()) continue;
    auto name = m.find("name");
    auto state = m.find("state");
    if (name == m.end() || !name->is_string() || state == m.end() || !state->is_string()) continue;
    auto reason = m.find("reason");
    const bool evicted = reason != m.end() && reason->is_string() && reason->get<std::string>().starts_with("evicted");
    if (*state == "READY" || (*state == "UNAVAILABLE" && evicted)) {
      out.ready.push_back(name->get<std::string>());
    } else if (*state == "UNAVAILABLE") {
      out.failed.push_back(name->get<std::string>());
    }
  }
  return out;
}

bool TransientRepositoryAnswer(int http_status, std::string_view body) {
  if (http_status == 0) return true;  // no answer: the replica is restarting or stopping
  if (http_status != 503 && http_status != 429) return false;
  const std::string error = RepositoryError(http_status, body);
  return error.find("already loading") != std::string::npos || error.find("retry later") != std::string::npos ||
         http_status == 429;
}

std::string RepositoryError(int http_status, std::string_view body) {
  auto parsed = ParseBoundedJson(body, "repository answer");
  if (parsed.ok() && parsed->is_object()) {
    auto e = parsed->find("error");
    if (e != parsed->end() && e->is_string()) return e->get<std::string>();
  }
  std::string text(body.substr(0, 512));
  return text.empty() ? "HTTP " + std::to_string(http_status) : text;
}

StatusOr<bool> PlaceModel(const std::string& dir, const std::string& name, const std::string& target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create the model repository " + dir + ": " + ec.message());
  const fs::path final_path = fs::path(dir) / name;
  if (fs::is_symlink(final_path, ec) && fs::read_symlink(final_path, ec) == fs::path(target)) return false;
  // Hidden names are no models (the model server skips them); the rename replaces the link in one step.
  const fs::path tmp = fs::path(dir) / ("." + name + ".tmp");
  fs::remove(tmp, ec);
  fs::create_directory_symlink(target, tmp, ec);
  if (ec) return Internal("cannot link " + tmp.string() + " to " + target + ": " + ec.message());
  if (std::rename(tmp.c_str(), final_path.c_str()) != 0) {
    fs::remove(tmp, ec);
    return Internal("cannot place " + final_path.string() + " (rename failed)");
  }
  return true;
}

void SweepRepository(const std::string& dir, const std::map<std::string, std::string>& keep) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (!n.empty() && n[0] != '.' && !keep.count(n)) stale.push_back(it->path());
  }
  for (const auto& p : stale) {
    fs::remove_all(p, ec);
    LOG_INFO("model repository {}: removed {}, which no TrainedModel places", dir, p.filename().string());
  }
}

Status UnplaceModel(const std::string& dir, const std::string& name) {
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(dir) / name, ec);
  if (ec) return Internal("cannot remove " + dir + "/" + name + ": " + ec.message());
  return Status::Ok();
}

HttpRepositoryClient::HttpRepositoryClient(std::string token, std::function<void()> wake)
    : token_(std::move(token)), wake_(std::move(wake)), pool_(std::make_unique<ThreadPool>(4, 100000)) {}

HttpRepositoryClient::~HttpRepositoryClient() { pool_.reset(); }

void HttpRepositoryClient::Submit(RepositoryCall call) {
  auto run = [this, call]() {
    net::ClientRequest req;
    req.method = "POST";
    req.body = "{}";
    req.send_body = true;
    req.headers = {"Content-Type: application/json"};
    if (!token_.empty()) req.headers.push_back("Authorization: Bearer " + token_);
    req.connect_timeout_s = 5;
    req.timeout_s = call.kind == RepositoryCall::kIndex ? 30 : 600;  // a large model may take minutes to load
    req.url = call.base_url + (call.kind == RepositoryCall::kIndex
                                   ? std::string("/v2/repository/index")
                                   : "/v2/repository/models/" + call.model +
                                         (call.kind == RepositoryCall::kLoad ? "/load" : "/unload"));
    RepositoryAnswer answer;
    answer.call = call;
    auto result = net::Fetch(req, [&answer](std::string_view data, const net::ResponseHead&) {
      if (answer.body.size() + data.size() > kMaxAnswerBytes) return false;
      answer.body.append(data);
      return true;
    });
    if (result.transport == net::Transport::kOk) {
      answer.http_status = static_cast<int>(result.status);
    } else {
      answer.error = result.error.empty() ? "no answer" : result.error;
    }
    {
      MutexLock lock(mu_);
      answers_.push_back(std::move(answer));
    }
    if (wake_) wake_();
  };
  if (!pool_->Submit(run)) {
    RepositoryAnswer refused;
    refused.call = std::move(call);
    refused.error = "too many repository calls queued";
    MutexLock lock(mu_);
    answers_.push_back(std::move(refused));
  }
}

std::vector<RepositoryAnswer> HttpRepositoryClient::TakeAnswers() {
  MutexLock lock(mu_);
  return std::exchange(answers_, {});
}

}  // namespace inferd::control
