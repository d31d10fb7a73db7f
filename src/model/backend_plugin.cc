#include "model/backend_plugin.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <utility>

#include "core/logging.h"
#include "core/mutex.h"

namespace inferd {
namespace {

namespace fs = std::filesystem;

class PluginBackendFactory : public BackendFactory {
 public:
  PluginBackendFactory(std::string format, std::string library, std::string entry_point)
      : format_(std::move(format)), library_(std::move(library)), entry_point_(std::move(entry_point)) {}

  std::string_view format() const override { return format_; }

  StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& options) override {
    BackendFactory* real = nullptr;
    {
      MutexLock lock(mu_);
      if (!real_) RETURN_IF_ERROR(LoadPlugin());
      real = real_.get();
    }
    return real->Load(options);
  }

 private:
  Status LoadPlugin() REQUIRES(mu_) {
    std::vector<std::string> dirs = PluginSearchDirs();
    std::string path;
    std::error_code ec;
    for (const auto& d : dirs) {
      fs::path p = fs::path(d) / library_;
      if (fs::exists(p, ec)) {
        path = p.string();
        break;
      }
    }
    if (path.empty()) {
      std::string where;
      for (const auto& d : dirs) where += (where.empty() ? "" : ", ") + d;
      return Unavailable("the " + format_ + " backend plugin " + library_ + " was not found (searched " +
                                where + "; set INFERD_PLUGIN_DIR to the directory that holds it)");
    }
    auto t0 = std::chrono::steady_clock::now();
    // RTLD_LAZY: libtorch has ~10^5 relocations that RTLD_NOW would bind up front (+0.1 s).
    // RTLD_LOCAL: the plugin's own symbols stay out of the global scope; its references to inferd's
    // symbols still bind to the executable's (exported) definitions. Never dlclose()d.
    void* handle = dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* err = dlerror();
      return Unavailable("cannot load the " + format_ + " backend plugin " + path + ": " +
                                (err ? err : "unknown dlopen error"));
    }
    dlerror();
    void* sym = dlsym(handle, entry_point_.c_str());
    if (sym == nullptr) {
      const char* err = dlerror();
      return Unavailable("the " + format_ + " backend plugin " + path + " has no entry point " +
                                entry_point_ + ": " + (err ? err : "null symbol"));
    }
    std::unique_ptr<BackendFactory> real(reinterpret_cast<PluginEntryPoint>(sym)());
    if (!real || real->format() != format_) {
      return Unavailable("the backend plugin " + path + " does not provide the " + format_ + " format");
    }
    real_ = std::move(real);
    LOG_INFO("loaded the {} backend plugin {} in {} ms", format_, path,
             std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
    return Status::Ok();
  }

  const std::string format_;
  const std::string library_;
  const std::string entry_point_;
  Mutex mu_;
  std::unique_ptr<BackendFactory> real_ GUARDED_BY(mu_);
};

}  // namespace

std::vector<std::string> PluginSearchDirs() {
  if (const char* env = std::getenv("INFERD_PLUGIN_DIR"); env && *env) return {env};
  std::vector<std::string> dirs;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path dir = exe.parent_path();
    dirs.push_back(dir.string());
    dirs.push_back((dir.parent_path() / "lib" / "inferd").string());
  }
  return dirs;
}

std::unique_ptr<BackendFactory> NewPluginBackendFactory(std::string format, std::string library,
                                                        std::string entry_point) {
  return std::make_unique<PluginBackendFactory>(std::move(format), std::move(library), std::move(entry_point));
}

}  // namespace inferd
