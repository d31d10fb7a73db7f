// model/backend_registry.h: format name -> BackendFactory.
//
// Contract: factories are registered during start-up (before any server thread runs); lookups after
// that are read-only and thread-safe. The registry owns its factories.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/backend.h"

namespace inferd {

class BackendRegistry {
 public:
  void Register(std::unique_ptr<BackendFactory> factory);
  // nullptr when no factory handles `format`.
  BackendFactory* Find(std::string_view format) const;
  std::vector<std::string> formats() const;

 private:
  std::map<std::string, std::unique_ptr<BackendFactory>, std::less<>> factories_;
};

}  // namespace inferd
