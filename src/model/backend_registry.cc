#include "model/backend_registry.h"

namespace inferd {

void BackendRegistry::Register(std::unique_ptr<BackendFactory> factory) {
  std::string name(factory->format());
  factories_[name] = std::move(factory);
}

BackendFactory* BackendRegistry::Find(std::string_view format) const {
  auto it = factories_.find(format);
  return it == factories_.end() ? nullptr : it->second.get();
}

std::vector<std::string> BackendRegistry::formats() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : factories_) out.push_back(k);
  return out;
}

}  // namespace inferd
