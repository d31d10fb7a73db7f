// control/serve_config.h: the `inferd serve --config FILE` file: cluster-wide settings of the local platform
// (the autoscaler's, Knative's config-autoscaler keys) and what container images run here.
//
// Contract (pure functions apart from LoadServeConfig reading its file; any thread; nothing throws):
// - The file is one YAML document whose top level is a map. Known sections: `autoscaler:`, a map of
//   config-autoscaler keys to scalar values (`stable-window: 6s`, `enable-scale-to-zero: true`,
//   `container-concurrency-target-percentage: 70`); every scalar is taken as its text and the map goes to
//   autoscaler::ParseAutoscalerConfig (so the keys, the defaults, the ranges and the ignored keys are those of
//   autoscaler.h). An empty file (or one holding only comments, or `autoscaler:` with nothing under it) gives
//   the defaults.
// - `images:` (control/local_images.h): a map from an image reference to what that image runs on this
//   machine: `command` (a non-empty list of strings; required), `args` (a list of strings), `workingDir` (a
//   string) and `env` (a map of names to scalar values). LoadServeConfig resolves a relative workingDir, and
//   command or args entries that start with "./", against the file's directory (so a config and the code it
//   names can travel together). Any other key under an image is an error naming it.
// - Convenience: Knative's ConfigMap shape is accepted too: a top level with `kind: ConfigMap` takes its
//   `data:` map as the autoscaler section (apiVersion, metadata and immutable are allowed beside it and
//   ignored, except that metadata.name, when present, must be config-autoscaler).
// - Errors are InvalidArgument (a missing or unreadable file: NotFound / InvalidArgument) whose message starts
//   with the file name (`name_for_errors`): structural problems name the 1-based line ("serve.yaml:3: unknown
//   key 'autoscalr' ..."): a YAML syntax error, a top level that is not a map, an unknown top-level key, a
//   duplicate key, a non-scalar value under the section (naming its key); a bad value is the autoscaler's
//   message behind "FILE: autoscaler: " (ConfigMap shape: "FILE: data: "), e.g.
//   "serve.yaml: autoscaler: stable-window: \"0s\" must be in [1s, 1h]".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "autoscaler/autoscaler.h"
#include "control/local_images.h"
#include "core/status.h"

namespace inferd::control {

struct ServeConfig {
  autoscaler::AutoscalerConfig autoscaler;
  LocalImages images;
  // `router: headers: propagate: [...]` (KServe's inferenceservice-config `router` key, headers.propagate): the
  // Go regular expressions of the header names InferenceGraph steps get from the client's request (default
  // none, as KServe). Any other key under `router:` is an error naming it.
  std::vector<std::string> router_propagate_headers;
};

// Reads and parses `path` (the name used in errors is the path as given).
StatusOr<ServeConfig> LoadServeConfig(const std::string& path);

// Parses the text of a serve config; `name_for_errors` starts every error message.
StatusOr<ServeConfig> ParseServeConfig(std::string_view yaml_text, const std::string& name_for_errors);

}  // namespace inferd::control
