// resources/yaml_load.h: yaml-cpp's LoadAll, guarded against its endless loop. Every YAML reader of inferd
// (resources, `inferd serve --config`) loads through it.
//
// yaml-cpp 0.7 (Debian bookworm's) stops consuming tokens when a document starts with a token no node can
// start with (a stray ',' or ']' at the top level, e.g. the three bytes ",\n\n"), and LoadAll then appends
// empty documents until the process runs out of memory (jbeder/yaml-cpp#1040, fixed upstream in 0.8 by #1319).
// Found by fuzz/serve_config_fuzz.
//
// Contract: LoadAllYaml(text) returns what YAML::LoadAll returns, or throws what it throws
// (YAML::Exception); a stream whose parser stops advancing throws YAML::ParserException at the token where
// it stuck. Cost: the text is parsed twice (events only, then nodes); YAML here is configuration, not data.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace inferd::resources {

std::vector<YAML::Node> LoadAllYaml(const std::string& text);

}  // namespace inferd::resources
