// model/backend_plugin.h: backends that live in a shared library (plugin) loaded on first use.
//
// The PyTorch and ONNX backends link libtorch / ONNX Runtime, whose static initializers cost ~0.4 s and
// ~150 MB at process start. They are built as plugins (libinferd_backend_torch.so, libinferd_backend_onnx.so)
// that the executable dlopen()s only when a model of their format is loaded, so a process serving XGBoost,
// LightGBM or scikit-learn models never maps those runtimes.
//
// Contract:
// - NewPluginBackendFactory(format, library, entry_point) returns a BackendFactory for `format` whose first
//   Load() dlopen()s `library` and calls its extern "C" `entry_point` (a PluginEntryPoint), which returns
//   the real factory; that Load and every later one go to the real factory. Loading the plugin happens
//   once per factory (under a mutex); a failure (library not found, dlopen error such as a missing
//   dependency, missing entry point, factory of another format) is an Unavailable Status naming the
//   library and the dlerror() text, returned by that Load and retried by the next one. Never a crash.
// - The library is looked up in, in this order: $INFERD_PLUGIN_DIR (when set and non-empty: only there),
//   the directory of the running executable (/proc/self/exe), and <that directory>/../lib/inferd (the
//   installed layout).
// - A plugin is never unloaded (libtorch and ONNX Runtime do not support dlclose); the real factory lives as
//   long as the returned one.
// - Plugins resolve inferd's own symbols (Status, Tensor, logging, DetectModel...) against the executable,
//   which exports them (ENABLE_EXPORTS, see CMakeLists.txt): one copy of inferd's code and state per process.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/backend.h"

namespace inferd {

// Signature of a plugin's entry point: a new factory, owned by the caller.
using PluginEntryPoint = BackendFactory* (*)();

std::unique_ptr<BackendFactory> NewPluginBackendFactory(std::string format, std::string library,
                                                        std::string entry_point);

// The directories searched for a plugin library, in order (see above).
std::vector<std::string> PluginSearchDirs();

}  // namespace inferd
