#include "model/repository.h"

#include <fmt/format.h>

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

Status ValidateModelName(std::string_view name) {
  if (name.empty()) return InvalidArgument("model name is empty");
  if (name.size() > kMaxModelNameLength) {
    return InvalidArgument("model name is " + std::to_string(name.size()) + " bytes long (at most " +
                           std::to_string(kMaxModelNameLength) + ")");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    const bool allowed = alnum || c == '_' || ((c == '-' || c == '.') && i > 0);
    if (allowed && !(c == '.' && name[i - 1] == '.')) continue;
    std::string shown = c > 0x20 && c < 0x7f ? "'" + std::string(1, static_cast<char>(c)) + "'" : fmt::format("\\x{:02x}", c);
    std::string prefix = c > 0x20 && c < 0x7f && i < 64 ? " ('" + std::string(name.substr(0, i + 1)) + "')" : "";
    return InvalidArgument("model name: byte " + std::to_string(i) + prefix + " is " + shown +
                           "; a model name is letters, digits, '_', '-' and '.' (not first, not '..'), "
                           "at most " + std::to_string(kMaxModelNameLength) + " bytes");
  }
  return Status::Ok();
}

ModelRepository::ModelRepository(const BackendRegistry* registry, RepositoryOptions options,
                                 ModelConfig model_defaults)
    : registry_(registry), options_(std::move(options)), model_defaults_(std::move(model_defaults)) {}

Status ModelRepository::AddSource(const std::string& name, const std::string& dir) {
  RETURN_IF_ERROR(ValidateModelName(name));
  WriterLock lock(mu_);
  sources_[name] = dir;
  return Status::Ok();
}

StatusOr<ModelRepository::Entry*> ModelRepository::EntryFor(const std::string& name) {
  auto it = entries_.find(name);
  if (it != entries_.end()) return &it->second;
  if (entries_.size() >= options_.max_models) {
    return Unavailable("cannot add model '" + name + "': this model server already holds " +
                       std::to_string(entries_.size()) + " models (loaded, loading or failed), its limit " +
                       "(--max_models); unload one first");
  }
  return &entries_[name];
}

StatusOr<std::string> ModelRepository::DirFor(const std::string& name) const {
  {
    ReaderLock lock(mu_);
    auto it = sources_.find(name);
    if (it != sources_.end()) return it->second;
  }
  // Names come from clients (URL paths): never let one escape the repository root.
  RETURN_IF_ERROR(ValidateModelName(name));
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

Status ModelRepository::ExpectLoad(const std::string& name) {
  RETURN_IF_ERROR(ValidateModelName(name));
  WriterLock lock(mu_);
  ASSIGN_OR_RETURN(Entry * e, EntryFor(name));
  if (!e->model) e->state = ModelState::kLoading;
  return Status::Ok();
}

Status ModelRepository::Load(const std::string& name) {
  auto dir_or = DirFor(name);
  if (!dir_or.ok()) {
    WriterLock lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end() && !it->second.model) {  // expected (ExpectLoad) but not there
      it->second.state = ModelState::kUnavailable;
      it->second.reason = dir_or.status().message();
    }
    return dir_or.status();
  }
  std::string dir = std::move(dir_or).value();
  {
    WriterLock lock(mu_);
    ASSIGN_OR_RETURN(Entry * e, EntryFor(name));
    if (e->model && e->state == ModelState::kLoading) return Unavailable("model '" + name + "' is already loading");
    if (!e->model) e->state = ModelState::kLoading;
    e->reason.clear();
  }
  auto fail = [&](const Status& st) {
    WriterLock lock(mu_);
    if (auto e = EntryFor(name); e.ok()) {
      if (!(*e)->model) (*e)->state = ModelState::kUnavailable;
      (*e)->reason = st.message();
    }
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

  WriterLock lock(mu_);
  ASSIGN_OR_RETURN(Entry * e, EntryFor(name));  // unloaded while loading and the limit reached since
  e->model = std::move(model);
  e->state = ModelState::kReady;
  e->version = version;
  e->reason.clear();
  LOG_INFO("model '{}' is ready", name);
  return Status::Ok();
}

Status ModelRepository::AddLoaded(const std::string& name, std::unique_ptr<Backend> backend) {
  RETURN_IF_ERROR(ValidateModelName(name).WithPrefix("a model registered by the script"));
  auto model = std::make_shared<Model>(name, "1", std::move(backend), model_defaults_);
  if (Status st = model->WarmUp(); !st.ok()) return st.WithPrefix("model '" + name + "': ");
  WriterLock lock(mu_);
  ASSIGN_OR_RETURN(Entry * e, EntryFor(name));
  if (e->model) return AlreadyExists("model '" + name + "' is already served");
  e->model = std::move(model);
  e->state = ModelState::kReady;
  e->version = "1";
  e->reason.clear();
  LOG_INFO("model '{}' is ready", name);
  return Status::Ok();
}

Status ModelRepository::Unload(const std::string& name) {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::shared_ptr<Model> old;
  {
    WriterLock lock(mu_);
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
  ReaderLock lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    RETURN_IF_ERROR(ValidateModelName(name));  // only on a miss: a valid name costs nothing here
    return NotFound("Model with name " + std::string(name) + " does not exist.");
  }
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
    // Subdirectories whose names are not model names (".git", "my model") cannot be loaded: not listed.
    std::error_code ec;
    size_t listed = 0;
    for (fs::directory_iterator it(options_.repository_root, ec), end; !ec && it != end; it.increment(ec)) {
      std::string n = it->path().filename().string();
      std::error_code entry_ec;  // one unreadable entry must not end the listing
      if (!it->is_directory(entry_ec) || !ValidateModelName(n).ok()) continue;
      if (++listed > options_.max_models) {
        if (!index_truncated_warned_.exchange(true)) {
          LOG_WARN("repository '{}' has more than {} model directories (--max_models): the index lists {}",
                   options_.repository_root, options_.max_models, options_.max_models);
        }
        break;
      }
      out[n] = {n, "", "", ""};
    }
  }
  ReaderLock lock(mu_);
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
  ReaderLock lock(mu_);
  std::vector<std::string> v;
  for (const auto& [n, e] : entries_)
    if (e.model) v.push_back(n);
  return v;
}

bool ModelRepository::AllReady() const {
  ReaderLock lock(mu_);
  if (entries_.empty()) return false;
  for (const auto& [n, e] : entries_)
    if (!e.model) return false;
  return true;
}

}  // namespace inferd
