// resources/objects.cc: generic object helpers: DNS-1123 labels and RFC 7386 JSON merge patch.
#include "resources/resources.h"

namespace inferd::resources {

bool IsDns1123Label(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : name)
    if (!alnum(c) && c != '-') return false;
  return alnum(name.front()) && alnum(name.back());
}

namespace {
// RFC 7386 section 2, applied in place; depth is bounded by the patch's own depth.
void ApplyPatch(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      target.erase(it.key());
      continue;
    }
    auto found = target.find(it.key());
    if (found == target.end()) {
      Json fresh;  // null: an object patch turns into an object with its nulls dropped
      ApplyPatch(fresh, it.value());
      target[it.key()] = std::move(fresh);
    } else {
      ApplyPatch(*found, it.value());
    }
  }
}
}  // namespace

Json MergePatch(Json target, const Json& patch) {
  try {
    ApplyPatch(target, patch);
  } catch (...) {
    // nlohmann only throws on type misuse, which ApplyPatch avoids; keep the no-throw promise regardless.
  }
  return target;
}

}  // namespace inferd::resources
