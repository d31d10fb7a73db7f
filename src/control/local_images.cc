#include "control/local_images.h"

namespace inferd::control {

std::pair<std::string, std::string> SplitImageReference(std::string_view image) {
  if (auto at = image.find('@'); at != std::string_view::npos) image = image.substr(0, at);
  std::string tag;
  const size_t slash = image.rfind('/');
  if (auto colon = image.find(':', slash == std::string_view::npos ? 0 : slash); colon != std::string_view::npos) {
    tag = std::string(image.substr(colon + 1));
    image = image.substr(0, colon);
  }
  // A first segment with a '.' or ':' or equal to "localhost" is a registry host (Docker's rule).
  if (auto first = image.find('/'); first != std::string_view::npos) {
    std::string_view host = image.substr(0, first);
    if (host.find('.') != std::string_view::npos || host.find(':') != std::string_view::npos || host == "localhost") {
      image = image.substr(first + 1);
    }
  }
  if (image.starts_with("library/")) image.remove_prefix(8);
  return {std::string(image), tag};
}

const LocalImage* FindLocalImage(const LocalImages& images, std::string_view image) {
  if (images.empty() || image.empty()) return nullptr;
  const auto [repository, tag] = SplitImageReference(image);
  const LocalImage* by_repository = nullptr;
  for (const auto& [key, value] : images) {
    const auto [key_repository, key_tag] = SplitImageReference(key);
    if (key_repository != repository) continue;
    if (!key_tag.empty() && key_tag == tag) return &value;
    if (key_tag.empty()) by_repository = &value;
  }
  return by_repository;
}

}  // namespace inferd::control
