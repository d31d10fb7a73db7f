// control/local_images.h: what a container image runs on this machine. `inferd serve` runs containers as local
// processes and cannot pull images, so a container that names an image without a `command` (as KServe's samples
// do: `image: kserve/image-transformer:latest`) runs what the `images:` section of `inferd serve --config`
// (control/serve_config.h) says that image's entrypoint is here: a command, args, a working directory and env.
//
// Contract (pure functions; any thread):
// - Keys are image references without a registry host: "kserve/image-transformer" matches every tag and digest
//   of that repository on any registry; "kserve/image-transformer:v0.14" matches that tag only and wins over the
//   repository-wide entry. A leading "docker.io/" or "index.docker.io/" and the implicit "library/" of Docker Hub
//   are ignored on both sides.
// - FindLocalImage returns null when no entry matches.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inferd::control {

struct LocalImage {
  std::vector<std::string> command;  // the image's entrypoint here (non-empty)
  std::vector<std::string> args;     // its default args (the container's args replace them, as Kubernetes does)
  std::string working_dir;           // "" = the container's workingDir, else inferd serve's cwd
  std::vector<std::pair<std::string, std::string>> env;  // before the container's own env
};

using LocalImages = std::map<std::string, LocalImage>;

// "docker.io/library/python:3.11@sha256:..." -> {"python", "3.11"}: the repository without registry and the
// tag ("" when none).
std::pair<std::string, std::string> SplitImageReference(std::string_view image);

const LocalImage* FindLocalImage(const LocalImages& images, std::string_view image);

}  // namespace inferd::control
