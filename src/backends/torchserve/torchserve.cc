#include "backends/torchserve/torchserve.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "backends/torchserve/torchserve_runtime.h"
#include "core/logging.h"

namespace inferd {

namespace fs = std::filesystem;

namespace {

bool HoldsArchives(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".mar" && it->is_regular_file(ec)) return true;
  }
  return false;
}

std::string ConfigNextTo(const fs::path& store) {
  std::error_code ec;
  const fs::path p = fs::absolute(store, ec).lexically_normal().parent_path() / "config" / "config.properties";
  return fs::is_regular_file(p, ec) ? p.string() : "";
}

}  // namespace

std::optional<TorchServeStore> FindTorchServeStore(const std::string& model_store, const std::string& model_dir,
                                                   const std::string& ts_config) {
  fs::path store;
  if (!model_store.empty() && HoldsArchives(model_store)) {
    store = model_store;
  } else if (model_store.empty() && !model_dir.empty()) {
    if (HoldsArchives(fs::path(model_dir) / "model-store")) {
      store = fs::path(model_dir) / "model-store";
    } else if (HoldsArchives(model_dir)) {
      store = model_dir;
    }
  }
  if (store.empty()) return std::nullopt;
  std::error_code ec;
  TorchServeStore out{fs::absolute(store, ec).lexically_normal().string(), ts_config};
  if (out.config.empty()) out.config = ConfigNextTo(store);
  return out;
}

StatusOr<TorchServeProgram> TorchServeProgram::Create(const TorchServeStore& store) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/inferd-torchserve-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    return Internal("TorchServe: cannot create a private directory from " + tmpl + ": " + std::strerror(errno));
  }
  TorchServeProgram p;
  p.dir_ = tmpl;  // owned from here: removed by the destructor on every path below
  p.script_ = p.dir_ + "/inferd_torchserve.py";
  {
    std::ofstream out(p.script_, std::ios::binary | std::ios::trunc);
    out << kTorchServeRuntimeSource;
    if (!out.flush()) return Internal("TorchServe: cannot write " + p.script_);
  }
  p.args_ = {"--model-store", store.store, "--work-dir", p.dir_ + "/models"};
  if (!store.config.empty()) p.args_.insert(p.args_.end(), {"--ts-config", store.config});
  return p;
}

TorchServeProgram::TorchServeProgram(TorchServeProgram&& o) noexcept
    : dir_(std::move(o.dir_)), script_(std::move(o.script_)), args_(std::move(o.args_)) {
  o.dir_.clear();
}

TorchServeProgram::~TorchServeProgram() {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) LOG_WARN("TorchServe: cannot remove {}: {}", dir_, ec.message());
}

}  // namespace inferd
