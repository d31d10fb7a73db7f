// backends/torchserve/torchserve.h: TorchServe model stores (KServe's `pytorch` format as its TorchServe runtime
// serves it: `config/config.properties` + `model-store/*.mar`), served by inferd's TorchServe runtime, a Python
// program (backends/torchserve/torchserve_runtime.py, compiled into the binary) run in the embedded interpreter
// the way `--python` programs are (backends/python/python_model_backend.h).
//
// Contract:
// - FindTorchServeStore is pure filesystem inspection: it says whether the model server's flags point at a
//   TorchServe store, and where the store and its config.properties are (docs/torchserve.md, "Layout").
// - TorchServeProgram::Create makes a new private directory (mode 0700, under $TMPDIR or /tmp), writes the runtime
//   program into it, and returns the --python script and arguments that serve the store; each archive is unpacked
//   by the program under `<dir>/models`. The object owns the directory and removes it (recursively) when destroyed:
//   keep it alive while the server runs. Not thread-safe; create and destroy it on one thread.
// - Everything about the archives themselves (bounds, manifest, handlers, request envelopes) is the Python
//   program's: see torchserve_runtime.py.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace inferd {

struct TorchServeStore {
  std::string store;   // the directory holding the *.mar archives
  std::string config;  // config.properties, or "" when there is none
};

// The store named by TorchServe's --model-store (a directory holding *.mar), or KServe's layout under --model_dir
// (`model-store/*.mar`, or *.mar in the directory itself). The config is `ts_config` (--ts-config) when given,
// else `config/config.properties` next to the model store (KServe's layout), when it exists. nullopt: not
// TorchServe.
std::optional<TorchServeStore> FindTorchServeStore(const std::string& model_store, const std::string& model_dir,
                                                   const std::string& ts_config);

class TorchServeProgram {
 public:
  static StatusOr<TorchServeProgram> Create(const TorchServeStore& store);
  TorchServeProgram(TorchServeProgram&& o) noexcept;
  TorchServeProgram& operator=(TorchServeProgram&&) = delete;
  TorchServeProgram(const TorchServeProgram&) = delete;
  TorchServeProgram& operator=(const TorchServeProgram&) = delete;
  ~TorchServeProgram();

  const std::string& script() const { return script_; }  // the --python program
  const std::vector<std::string>& args() const { return args_; }  // its --python_arg values
  const std::string& dir() const { return dir_; }

 private:
  TorchServeProgram() = default;
  std::string dir_, script_;
  std::vector<std::string> args_;
};

}  // namespace inferd
