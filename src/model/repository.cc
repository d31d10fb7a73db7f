#include "model/repository.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "core/logging.h"
#include "model/format.h"

namespace inferd {

namespace fs = std::filesystem;

std::string_view ModelStateName(ModelState s) {
  switch (s) {
    case ModelState::kLoading: return "LOADING";
    case ModelState::kReady: return "READY";
    case ModelState::kUnloading: return "UNLOADING";
    case ModelState::kUnavailable: return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

ModelRepository::ModelRepository(const BackendRegistry* registry, RepositoryOptions options,
                                 ModelConfig model_defaults)
    : registry_(registry), options_(std::move(options)), model_defaults_(std::move(model_defaults)) {}

void ModelRepository::AddSource(const std::string& name, const std::string& dir) {
  std::unique_lock lock(mu_);
  sources_[name] = dir;
}

StatusOr<std::string> ModelRepository::DirFor(const std::string& name) const {
  {
    std::shared_lock lock(mu_);
    auto it = sources_.find(name);
    if (it != sources_.end()) return it->second;
  }
  // Names come from clients (URL paths): never let one escape the repository root.
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\\') != std::string::npos) {
    return InvalidArgument("model name '" + name + "' is not a valid directory name");
  }
  if (!options_.repository_root.empty()) {
    fs::path p = fs::path(options_.repository_root) / name;
    std::error_code ec;
    if (fs::is_directory(p, ec)) return p.string();
  }
  return NotFound("Model with name " + name + " does not exist.");
}

namespace {
// Triton layout: numeric subdirectories are versions; the highest one is served.
void ResolveVersion(std::string* dir, std::string* version) {
  std::error_code ec;
  long best = -1;
  for (const auto& e : fs::directory_iterator(*dir, ec)) {
    if (!e.is_directory(ec)) continue;
    std::string n = e.path().filename().string();
    if (n.empty() || n.size() > 9 || !std::all_of(n.begin(), n.end(), ::isdigit)) continue;
    best = std::max(best, std::stol(n));
  }
  if (best >= 0) {
    *version = std::to_string(best);
    *dir = (fs::path(*dir) / *version).string();
  } else {
    *version = "1";
  }
}
}  // namespace

void ModelRepository::ExpectLoad(const std::string& name) {
  std::unique_lock lock(mu_);
  Entry& e = entries_[name];
  if (!e.model) e.state = ModelState::kLoading;
}

Status ModelRepository::Load(const std::string& name) {
  auto dir_or = DirFor(name);
  if (!dir_or.ok()) {
    std::unique_lock lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end() && !it->second.model) {  // expected (ExpectLoad) but not there
      it->second.state = ModelState::kUnavailable;
      it->second.reason = dir_or.status().message();
    }
    return dir_or.status();
  }
  std::string dir = std::move(dir_or).value();
  {
    std::unique_lock lock(mu_);
    Entry& e = entries_[name];
    if (e.model && e.state == ModelState::kLoading) return Unavailable("model '" + name + "' is already loading");
    if (!e.model) e.state = ModelState::kLoading;
    e.reason.clear();
  }
  auto fail = [&](const Status& st) {
    std::unique_lock lock(mu_);
    Entry& e = entries_[name];
    if (!e.model) e.state = ModelState::kUnavailable;
    e.reason = st.message();
    LOG_ERROR("model '{}' failed to load: {}", name, st.message());
    return Unavailable("failed to load model '" + name + "': " + st.message());
  };

  std::string version;
  const std::string model_root = dir;
  ResolveVersion(&dir, &version);
  bool have_settings = false;
  auto config = LoadModelConfig(dir, model_defaults_, &have_settings);
  if (config.ok() && !have_settings && dir != model_root) config = LoadModelConfig(model_root, model_defaults_);
  if (!config.ok()) return fail(config.status());
  auto detected = DetectModel(dir, options_.default_format);
  if (!detected.ok()) return fail(detected.status());
  BackendFactory* factory = registry_->Find(detected->format);
  if (!factory) {
    std::string have;
    for (const auto& f : registry_->formats()) have += (have.empty() ? "" : ", ") + f;
    return fail(Unimplemented("model format '" + detected->format + "' (file " + detected->file +
                              ") is not supported by this build (supported: " + have + ")"));
  }
  LOG_INFO("loading model '{}' version {} format {} from {}", name, version, detected->format, detected->file);
  LoadOptions lo{name, dir, detected->file, options_.intra_op_threads, options_.force_python};
  StatusOr<std::unique_ptr<Backend>> backend = Status(StatusCode::kInternal, "not loaded");
  try {
    backend = factory->Load(lo);
  } catch (const std::exception& ex) {
    backend = Internal(std::string("backend raised an exception while loading: ") + ex.what());
  }
  if (!backend.ok()) return fail(backend.status());
  auto model = std::make_shared<Model>(name, version, std::move(backend).value(), *config);
  if (Status st = model->WarmUp(); !st.ok()) return fail(st);

  std::unique_lock lock(mu_);
  Entry& e = entries_[name];
  e.model = std::move(model);
  e.state = ModelState::kReady;
  e.version = version;
  e.reason.clear();
  LOG_INFO("model '{}' is ready", name);
  return Status::Ok();
}

Status ModelRepository::AddLoaded(const std::string& name, std::unique_ptr<Backend> backend) {
  auto model = std::make_shared<Model>(name, "1", std::move(backend), model_defaults_);
  if (Status st = model->WarmUp(); !st.ok()) return st.WithPrefix("model '" + name + "': ");
  std::unique_lock lock(mu_);
  Entry& e = entries_[name];
  if (e.model) return AlreadyExists("model '" + name + "' is already served");
  e.model = std::move(model);
  e.state = ModelState::kReady;
  e.version = "1";
  e.reason.clear();
  LOG_INFO("model '{}' is ready", name);
  return Status::Ok();
}

Status ModelRepository::Unload(const std::string& name) {
  std::shared_ptr<Model> old;
  {
    std::unique_lock lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end() || !it->second.model) {
      if (it != entries_.end()) entries_.erase(it);
      return NotFound("Model with name " + name + " does not exist.");
    }
    old = std::move(it->second.model);
    entries_.erase(it);
  }
  LOG_INFO("model '{}' unloaded ({} requests still hold it)", name, old.use_count() - 1);
  return Status::Ok();
}

StatusOr<std::shared_ptr<Model>> ModelRepository::Get(std::string_view name, std::string_view version) const {
  std::shared_lock lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return NotFound("Model with name " + std::string(name) + " does not exist.");
  const Entry& e = it->second;
  if (!e.model) {
    if (e.state == ModelState::kLoading) return Unavailable("model '" + std::string(name) + "' is loading");
    return Unavailable("model '" + std::string(name) + "' is not ready: " + e.reason);
  }
  if (!version.empty() && version != e.model->version()) {
    return NotFound("Model with name " + std::string(name) + " and version " + std::string(version) +
                    " does not exist.");
  }
  return e.model;
}

std::vector<ModelIndexEntry> ModelRepository::Index() const {
  std::map<std::string, ModelIndexEntry> out;
  if (!options_.repository_root.empty()) {
    std::error_code ec;
    for (const auto& d : fs::directory_iterator(options_.repository_root, ec)) {
      if (d.is_directory(ec)) {
        std::string n = d.path().filename().string();
        out[n] = {n, "", "", ""};
      }
    }
  }
  std::shared_lock lock(mu_);
  for (const auto& [n, s] : sources_) out[n] = {n, "", "", ""};
  for (const auto& [n, e] : entries_) {
    ModelState st = e.model ? ModelState::kReady : e.state;
    out[n] = {n, e.model ? e.model->version() : e.version, std::string(ModelStateName(st)), e.reason};
  }
  std::vector<ModelIndexEntry> v;
  for (auto& [k, e] : out) v.push_back(std::move(e));
  return v;
}

std::vector<std::string> ModelRepository::ReadyModelNames() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> v;
  for (const auto& [n, e] : entries_)
    if (e.model) v.push_back(n);
  return v;
}

bool ModelRepository::AllReady() const {
  std::shared_lock lock(mu_);
  if (entries_.empty()) return false;
  for (const auto& [n, e] : entries_)
    if (!e.model) return false;
  return true;
}

}  // namespace inferd
